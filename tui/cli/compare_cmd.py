"""`labconsole compare RUN... --baseline RUN`: metrics side by side with deltas, as table, markdown, CSV or JSON.

The markdown and CSV are what `labconsole export` writes too: the runs by name (ids in a footnote), every row
the compare screen shows (test set metrics, then train time, params, img/s, peak memory, each loss first epoch →
last, loss trend), differences of percentages in percentage points, numbers rounded to the precision shown.

Every format also carries how each set was measured (run.json `fingerprints`: a protocol row per set) and marks
each value whose protocol differs from the baseline's: its delta reads "not comparable: 1,000 vs 740 queries".
Re-evaluations (`labconsole eval`) follow as rows of their own, marked the same way.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from engine.core.errors import UserError
from engine.core.export import fmt_number, is_percent, lower_is_better
from engine.core.protocol.fingerprints import differences, summary
from tui.cli.common import RUNS_DIR_PARENT, console_for, is_untrained, lookup, run_summary, warn_damage

if TYPE_CHECKING:  # tui.data.compare_runs imports this module: it is imported where used
    from tui.data.compare_runs import CompareRun, MetricRow

PERCENT_UNIT, VALUE_UNIT = "pct", "value"
"""MetricRow units of evaluation metrics: on a 0–100 scale (deltas in pp), or any other number."""

CSV_UNITS = {PERCENT_UNIT: ("%", "pp"), "seconds": ("s", "s"), "rate": ("img/s", "img/s"), "mb": ("MB", "MB")}
"""(value unit, delta unit) of a row in the CSV's unit columns; a row not named here has no unit."""

CSV_DECIMALS = {"seconds": 0, "rate": 1, "mb": 0}
"""Decimals of the CSV's train time, img/s and peak memory: those of the compare screen."""

NOT_COMPARABLE = "not comparable"
"""How a value measured under another protocol than the baseline's is marked, in every format."""

UNTRAINED = "step 0 (untrained)"
"""After the name of a run evaluated only before its first training step (its metrics are the initial weights')."""


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "compare", parents=[RUNS_DIR_PARENT], help="compare runs' metrics against a baseline"
    )
    parser.add_argument("runs", nargs="+", metavar="RUN")
    parser.add_argument("--baseline", metavar="RUN", help="the reference run (default: the first RUN)")
    parser.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table")
    parser.add_argument(
        "--md", dest="format", action="store_const", const="markdown", help="--format markdown"
    )
    parser.add_argument("--csv", dest="format", action="store_const", const="csv", help="--format csv")
    parser.add_argument(
        "--use",
        choices=("final", "best"),
        default="final",
        help="compare the last evaluation (final) or the best value seen (best)",
    )
    parser.set_defaults(handler=compare)


@dataclass(frozen=True)
class ComparedRun:
    """A run as compare shows it: its id, the name it is shown by and its run.json."""

    id: str
    name: str
    info: dict[str, Any]

    @property
    def untrained(self) -> bool:
        """Evaluated but never trained (max_steps 0, or stopped at step 0): its "final" is the initial weights'."""
        return is_untrained(self.info)

    @property
    def label(self) -> str:
        """The name, marked when the run never trained."""
        return f"{self.name} — {UNTRAINED}" if self.untrained else self.name


@dataclass(frozen=True)
class Comparison:
    """What every format shows: the runs (baseline first), a row per split × metric then the screen's
    extra rows, and warnings about what the numbers mean."""

    runs: list[ComparedRun]
    rows: list[tuple[str, str, MetricRow]]
    """(split, metric, row): split "" for the extra rows (train time, params, img/s, peak memory)."""
    warnings: list[str]
    marks: list[list[str | None]] = field(default_factory=list)
    """Per row, per run: "not comparable: …" where its protocol differs from the baseline's (None: it agrees or
    is unknown); rows without an entry have no marks."""
    fingerprints: dict[str, list[dict[str, Any] | None]] = field(default_factory=dict)
    """Set name -> each run's fingerprint of it (None when the run recorded none)."""

    def mark(self, row: int, column: int) -> str | None:
        marks = self.marks[row] if row < len(self.marks) else []
        return marks[column] if column < len(marks) else None


def compare(args: argparse.Namespace) -> int:
    refs = list(dict.fromkeys(([args.baseline] if args.baseline else []) + args.runs))
    found = {
        paths.run_id: paths for paths in (lookup(args, r) for r in refs)
    }  # a run named twice counts once
    runs = [(run_id, run_summary(paths)) for run_id, paths in found.items()]
    for run_id, info in runs:
        warn_damage(run_id, info)
    if len(runs) < 2:
        raise UserError("compare needs at least two different runs (a baseline and a candidate)")
    from tui.data.compare_runs import load_run

    loaded = [load_run(paths.root) for paths in found.values()]
    comparison = build_comparison(loaded, [info for _, info in runs], args.use)
    if not any(split for split, _, _ in comparison.rows):
        raise UserError(f"the runs share no evaluated metric ({args.use}); evaluate them first")
    for warning in comparison.warnings:
        print(f"labconsole: warning: {warning}", file=sys.stderr)
    output = render_comparison(comparison, args.format)
    if isinstance(output, Table):
        console_for().print(output)  # piped: full names, never cropped to 80 columns
    else:
        print(output, end="")
    return 0


def comparison_rows(runs: list[tuple[str, dict[str, Any]]], use: str) -> list[dict[str, Any]]:
    """One row per split × metric present in the baseline: values per run, deltas against the baseline."""
    baseline = runs[0][1].get(use) or {}
    rows = []
    for split, metrics in baseline.items():
        for metric, base_value in metrics.items():
            values = [(info.get(use) or {}).get(split, {}).get(metric) for _, info in runs]
            rows.append(
                {
                    "split": split,
                    "metric": metric,
                    "values": values,
                    "deltas": [None if v is None else v - base_value for v in values[1:]],
                }
            )
    return rows


def build_comparison(
    loaded: list[CompareRun], infos: list[dict[str, Any]] | None = None, use: str | None = None
) -> Comparison:
    """`loaded` (the baseline first) compared: its evaluation rows (`use`: "final" or "best" of `infos`, the
    runs' checked run.json; None: the compare screen's final-else-best) and the compare screen's extra rows,
    made by the screen's own code (tui.data.compare_runs) so that both always show the same rows."""
    from tui.data.compare_runs import eval_rows, metric_rows

    infos = infos if infos is not None else [run.info for run in loaded]
    runs = [(run.id, info) for run, info in zip(loaded, infos)]
    evaluated = eval_rows(loaded) if use is None else comparison_rows(runs, use)
    compared = [ComparedRun(run_id, str(info.get("name") or run_id), info) for run_id, info in runs]
    published = [m for info in infos for m in info.get("metric_order") or []]
    screen_rows = metric_rows(loaded)
    extras = [("", row.label, row) for row in screen_rows[len(eval_rows(loaded)) :]]
    evaluated = evaluated + reevaluation_rows(runs, evaluated)
    return _comparison(compared, evaluated, extras, published)


def fingerprint_of(info: dict[str, Any], split: str) -> dict[str, Any] | None:
    """How a run's latest evaluation of `split` was measured (run.json `fingerprints`); None when unrecorded."""
    fingerprints = info.get("fingerprints")
    found = fingerprints.get(split) if isinstance(fingerprints, dict) else None
    return found if isinstance(found, dict) else None


def reevaluation_rows(
    runs: list[tuple[str, dict[str, Any]]], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A row per re-evaluated set × metric of any run (the latest of each checkpoint and settings): its value in
    that run's column, its delta against the baseline's value of the same set and metric, its own fingerprint."""
    baseline = {(row["split"], row["metric"]): row["values"][0] for row in rows}
    out = []
    for column, (_, info) in enumerate(runs):
        latest: dict[tuple[str, str, str], dict[str, Any]] = {}
        for record in info.get("reevaluations") or []:
            if isinstance(record, dict) and isinstance(record.get("metrics"), dict):
                settings = " ".join(
                    f"{k.removeprefix('eval.')}={v}" for k, v in (record.get("settings") or {}).items()
                )
                latest[(str(record.get("checkpoint")), str(record.get("split")), settings)] = record
        for (checkpoint, split, settings), record in latest.items():
            for metric, value in record["metrics"].items():
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                values: list[float | None] = [None] * len(runs)
                values[column] = value
                base = baseline.get((split, metric))
                deltas: list[float | None] = [None] * (len(runs) - 1)
                if column > 0 and base is not None:
                    deltas[column - 1] = value - base
                fingerprints: list[dict[str, Any] | None] = [None] * len(runs)
                fingerprints[column] = record.get("fingerprint")
                tail = f", {settings}" if settings else ""
                out.append(
                    {
                        "split": split,
                        "metric": metric,
                        "values": values,
                        "deltas": deltas,
                        "label": f"{split} {metric} ({checkpoint} re-evaluated{tail})",
                        "fingerprints": fingerprints,
                    }
                )
    return out


def _comparison(
    runs: list[ComparedRun],
    evaluated: list[dict[str, Any]],
    extras: list[tuple[str, str, MetricRow]],
    published: list[str],
) -> Comparison:
    """`comparison_rows` as MetricRows (percentages known by `published`, run.json metric_order), then `extras`."""
    from tui.data.compare_runs import MetricRow

    rows: list[tuple[str, str, MetricRow]] = []
    fingerprints = _split_fingerprints(runs, evaluated)
    marks = [_marks(runs, row, fingerprints) for row in evaluated]
    for row in evaluated:
        unit = PERCENT_UNIT if is_percent(row["metric"], published) else VALUE_UNIT
        better = -1 if lower_is_better(row["metric"]) else 1
        rows.append(
            (
                row["split"],
                row["metric"],
                MetricRow(_label(row), row["values"], [None, *row["deltas"]], better, unit),
            )
        )
    return Comparison(runs, rows + extras, _warnings(runs), marks, fingerprints)


def _split_fingerprints(
    runs: list[ComparedRun], evaluated: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any] | None]]:
    """Set name -> each run's fingerprint of it, for the sets some run recorded one of."""
    splits = dict.fromkeys(row["split"] for row in evaluated if "fingerprints" not in row)
    found = {split: [fingerprint_of(run.info, split) for run in runs] for split in splits}
    return {split: fps for split, fps in found.items() if any(fps)}


def _marks(
    runs: list[ComparedRun], row: dict[str, Any], fingerprints: dict[str, list[dict[str, Any] | None]]
) -> list[str | None]:
    """Per run, the "not comparable: …" mark of the row's value (the baseline's own column is never marked,
    but a re-evaluation of the baseline is, against the baseline's own protocol)."""
    base = (fingerprints.get(row["split"]) or [None])[0]
    own = row.get("fingerprints") or fingerprints.get(row["split"]) or [None] * len(runs)
    marks: list[str | None] = []
    for column, fingerprint in enumerate(own):
        if column == 0 and "fingerprints" not in row:
            marks.append(None)
            continue
        changed = differences(base, fingerprint)
        marks.append(f"{NOT_COMPARABLE}: {', '.join(changed)}" if changed else None)
    return marks


def _warnings(runs: list[ComparedRun]) -> list[str]:
    """Runs of different tasks (metrics that do not compare), runs that never trained."""
    warnings = []
    tasks: dict[str, list[str]] = {}
    for run in runs:
        tasks.setdefault(str(run.info.get("task") or "unknown task"), []).append(run.name)
    if len(tasks) > 1:
        which = "; ".join(f"{task}: {', '.join(names)}" for task, names in tasks.items())
        warnings.append(f"the runs are of different tasks ({which}): their metrics do not compare")
    for run in runs:
        if run.untrained:
            warnings.append(
                f"run {run.name} was evaluated at step 0 only (untrained): its metrics are the initial weights'"
            )
    return warnings


def render(rows: list[dict[str, Any]], run_ids: list[str], fmt: str) -> str | Table:
    """`comparison_rows` formatted, the runs known by id alone (no names, no extra rows): prefer
    `render_comparison(build_comparison(runs), fmt)`, which has both."""
    runs = [ComparedRun(run_id, run_id, {}) for run_id in run_ids]
    return render_comparison(_comparison(runs, rows, [], []), fmt)


def render_comparison(comparison: Comparison, fmt: str) -> str | Table:
    """Format the comparison; markdown follows the experiment logs' Metric | Baseline | Candidate | Delta."""
    runs = comparison.runs
    if fmt == "json":
        return _json(comparison)
    if fmt == "csv":
        return _csv(comparison)
    if fmt == "markdown":
        return _markdown(comparison)
    table = Table(title=f"baseline {escape(runs[0].label)}", caption=escape(_ids_note(runs)))
    table.add_column("metric", justify="left")
    for i, run in enumerate(runs):
        table.add_column(escape(run.label) + (" (base)" if i == 0 else ""), justify="right")
        if i > 0:
            table.add_column(f"Δ {escape(run.name)}", justify="right")
    protocols = _protocol_rows(comparison)
    for index, (_, _, row) in enumerate(comparison.rows):
        if index in protocols:
            label, texts = protocols[index]
            cells = [f"[dim]{escape(label)}[/]"]
            for i, text in enumerate(texts):
                cells += [f"[dim]{escape(text)}[/]"] + ([""] if i > 0 else [])
            table.add_row(*cells)
        cells = [escape(row.label)]  # split and metric names are the user's text, not markup
        for i in range(len(runs)):
            mark = comparison.mark(index, i)
            value = _value_text(row, i, bold="[bold]{}[/]")
            if i == 0:
                cells.append(value + (f" [yellow]({escape(mark)})[/]" if mark else ""))
            else:
                cells.append(value)
                cells.append(f"[yellow]{escape(mark)}[/]" if mark else _delta_text(row, i, coloured=True))
        table.add_row(*cells)
    return table


def _markdown(comparison: Comparison) -> str:
    runs = comparison.runs
    if len(runs) == 2:
        header = ["Metric", "Baseline", "Candidate", "Delta"]
        lines = [f"Baseline: **{runs[0].label}**; candidate: **{runs[1].label}**"]
    else:
        header = ["Metric", f"{runs[0].label} (baseline)"]
        header += [c for run in runs[1:] for c in (run.label, f"Δ {run.name}")]
        lines = [
            f"Baseline: **{runs[0].label}**; candidates: " + ", ".join(f"**{r.label}**" for r in runs[1:])
        ]
    lines += [f"> Warning: {w}" for w in comparison.warnings if "different tasks" in w]
    lines += [
        "",
        "| " + " | ".join(_md_cell(h) for h in header) + " |",
        "| :--- |" + " :---: |" * (len(header) - 1),
    ]
    protocols = _protocol_rows(comparison)
    for index, (_, _, row) in enumerate(comparison.rows):
        if index in protocols:
            label, texts = protocols[index]
            cells = [f"*{label}*"]
            for i, text in enumerate(texts):
                cells += [f"*{text}*"] + ([""] if i > 0 else [])
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        cells = [row.label]
        for i in range(len(runs)):
            mark = comparison.mark(index, i)
            value = _value_text(row, i, bold="**{}**")
            if i == 0:
                cells.append(value + (f" ({mark})" if mark else ""))
            else:
                cells += [value, mark or _delta_text(row, i)]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    lines += ["", "Deltas against the baseline; of percentages, in percentage points (pp).", _ids_note(runs)]
    return "\n".join(lines) + "\n"


def _csv(comparison: Comparison) -> str:
    runs = comparison.runs
    names = _unique_names(runs)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["split", "metric", "unit", "delta unit", names[0]]
        + [c for n in names[1:] for c in (n, f"delta {n}")]
    )
    protocols = _protocol_rows(comparison)
    for index, (split, metric, row) in enumerate(comparison.rows):
        if index in protocols:
            texts = protocols[index][1]
            writer.writerow(
                [split, "protocol", "", ""]
                + [c for i, t in enumerate(texts) for c in ([t] if i == 0 else [t, ""])]
            )
        value_unit, delta_unit = CSV_UNITS.get(row.unit, ("", ""))
        cells = [split, _csv_metric(metric, row), value_unit, delta_unit]
        for i, value in enumerate(row.values):
            mark = comparison.mark(index, i)
            if row.texts:  # a text row (loss trend, loss first → last epoch): its text, no delta
                cells += [row.texts[i]] if i == 0 else [row.texts[i], ""]
                continue
            cells.append(_csv_number(value, row.unit) + (f" ({mark})" if mark and i == 0 else ""))
            if i > 0:
                cells.append(mark or _csv_number(row.deltas[i], row.unit, signed=True))
        writer.writerow(cells)
    return out.getvalue()


def _json(comparison: Comparison) -> str:
    runs = comparison.runs
    rows = [
        {
            "split": split,
            "metric": metric,
            "label": row.label,
            "unit": row.unit,
            "values": row.values,
            **({"texts": row.texts} if row.texts else {}),
            "deltas": [None if d is None else float(fmt_number(d)) for d in row.deltas[1:]],
            **(
                {"not_comparable": marks}
                if any(marks := [comparison.mark(i, c) for c in range(len(runs))])
                else {}
            ),
        }
        for i, (split, metric, row) in enumerate(comparison.rows)
    ]
    document = {
        "baseline": runs[0].id,
        "candidates": [r.id for r in runs[1:]],
        "names": {r.id: r.name for r in runs},
        "untrained": [r.id for r in runs if r.untrained],
        "warnings": comparison.warnings,
        "fingerprints": {
            split: {run.id: fp for run, fp in zip(runs, fps)}
            for split, fps in comparison.fingerprints.items()
        },
        "rows": [r for r in rows if r["split"]],
        "extras": [r for r in rows if not r["split"]],
    }
    return json.dumps(document, indent=1) + "\n"


def _ids_note(runs: list[ComparedRun]) -> str:
    """The footnote naming each run's id (names can repeat, ids cannot)."""
    return "Run ids: " + ", ".join(f"{run.name} = `{run.id}`" for run in runs) + "."


def _unique_names(runs: list[ComparedRun]) -> list[str]:
    """Run labels for CSV headers; a name two runs share gets the id after it."""
    names = [run.name for run in runs]
    return [
        (f"{run.name} ({run.id})" if names.count(run.name) > 1 else run.name)
        + (f" — {UNTRAINED}" if run.untrained else "")
        for run in runs
    ]


def _label(row: dict[str, Any]) -> str:
    return str(row.get("label") or f"{row['split']} {row['metric']}")


def _protocol_rows(comparison: Comparison) -> dict[int, tuple[str, list[str]]]:
    """Row index -> (label, each run's fingerprint summary) of the protocol row shown before a set's first row."""
    out: dict[int, tuple[str, list[str]]] = {}
    seen = set()
    for index, (split, _, _) in enumerate(comparison.rows):
        if split in comparison.fingerprints and split not in seen:
            seen.add(split)
            out[index] = (f"{split} protocol", [summary(fp) for fp in comparison.fingerprints[split]])
    return out


def _csv_metric(metric: str, row: MetricRow) -> str:
    """The metric column: a re-evaluation row says which checkpoint and settings after the metric's name."""
    label = row.label
    return label[label.index(metric) :] if "re-evaluated" in label and metric in label else metric


def _md_cell(text: str) -> str:
    """A markdown table cell: a | in a name would end the cell."""
    return text.replace("|", "\\|")


def _value_text(row: MetricRow, column: int, bold: str) -> str:
    """A value as shown (85.30% for a percentage, the screen's formats otherwise), `bold` when the row's best."""
    from tui.data.compare_runs import best_index
    from tui.widgets.compare_table import fmt_value

    value = row.values[column]
    if row.texts:  # a text row (loss trend, loss first → last epoch): a text per run
        return row.texts[column]
    if value is None:
        return "-"
    if row.unit == PERCENT_UNIT:
        text = f"{fmt_number(value, percent=True)}%"
    elif row.unit == VALUE_UNIT:
        text = f"{value:.4g}"
    else:
        text = fmt_value(value, row.unit)
    return bold.format(text) if column in best_index(row) else text


def _delta_text(row: MetricRow, column: int, coloured: bool = False) -> str:
    """A delta against the baseline: +1.20 pp for a percentage, the screen's formats otherwise."""
    from tui.widgets.compare_table import delta_style, fmt_delta

    delta = row.deltas[column]
    if row.texts:  # words have no delta
        return ""
    if delta is None:
        return "-"
    if row.unit == PERCENT_UNIT:
        text = f"{fmt_number(delta, percent=True, signed=True)} pp"
    elif row.unit == VALUE_UNIT:
        text = f"{delta:+.4g}"
    else:
        text = fmt_delta(delta, row.unit)
    if not coloured:
        return text
    style = delta_style(delta, row.better, shown=text)
    return text if style == "dim" else f"[{style}]{text}[/]"


def _csv_number(value: float | None, unit: str, signed: bool = False) -> str:
    if value is None:
        return ""
    if unit == "count":
        return fmt_number(int(value), signed=signed)
    return fmt_number(value, percent=unit == PERCENT_UNIT, signed=signed, decimals=CSV_DECIMALS.get(unit))
