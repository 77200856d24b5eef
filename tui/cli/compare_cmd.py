"""`labconsole compare RUN... --baseline RUN`: metrics side by side with deltas, as table, markdown, CSV or JSON.

The markdown and CSV are what `labconsole export` writes too: the runs by name (ids in a footnote), every row
the compare screen shows (test set metrics, then train time, params, img/s, peak memory), differences of
percentages in percentage points, numbers rounded to the precision shown.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from engine.core.errors import UserError
from engine.core.export import fmt_number, is_percent, lower_is_better
from tui.cli.common import RUNS_DIR_PARENT, console_for, is_untrained, lookup, run_summary, warn_damage

if TYPE_CHECKING:  # tui.data.compare_runs imports this module: it is imported where used
    from tui.data.compare_runs import CompareRun, MetricRow

PERCENT_UNIT, VALUE_UNIT = "pct", "value"
"""MetricRow units of evaluation metrics: on a 0–100 scale (deltas in pp), or any other number."""

CSV_UNITS = {PERCENT_UNIT: ("%", "pp"), "seconds": ("s", "s"), "rate": ("img/s", "img/s"), "mb": ("MB", "MB")}
"""(value unit, delta unit) of a row in the CSV's unit columns; a row not named here has no unit."""

CSV_DECIMALS = {"seconds": 0, "rate": 1, "mb": 0}
"""Decimals of the CSV's train time, img/s and peak memory: those of the compare screen."""

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
    return _comparison(compared, evaluated, extras, published)


def _comparison(
    runs: list[ComparedRun],
    evaluated: list[dict[str, Any]],
    extras: list[tuple[str, str, MetricRow]],
    published: list[str],
) -> Comparison:
    """`comparison_rows` as MetricRows (percentages known by `published`, run.json metric_order), then `extras`."""
    from tui.data.compare_runs import MetricRow

    rows: list[tuple[str, str, MetricRow]] = []
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
    return Comparison(runs, rows + extras, _warnings(runs))


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
    for _, _, row in comparison.rows:
        cells = [escape(row.label)]  # split and metric names are the user's text, not markup
        for i in range(len(runs)):
            cells.append(_value_text(row, i, bold="[bold]{}[/]"))
            if i > 0:
                cells.append(_delta_text(row, i, coloured=True))
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
    for _, _, row in comparison.rows:
        cells = [row.label]
        for i in range(len(runs)):
            cells.append(_value_text(row, i, bold="**{}**"))
            if i > 0:
                cells.append(_delta_text(row, i))
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
    for split, metric, row in comparison.rows:
        value_unit, delta_unit = CSV_UNITS.get(row.unit, ("", ""))
        cells = [split, metric, value_unit, delta_unit]
        for i, value in enumerate(row.values):
            cells.append(_csv_number(value, row.unit))
            if i > 0:
                cells.append(_csv_number(row.deltas[i], row.unit, signed=True))
        writer.writerow(cells)
    return out.getvalue()


def _json(comparison: Comparison) -> str:
    runs = comparison.runs
    rows = [
        {
            "split": split,
            "metric": metric,
            "unit": row.unit,
            "values": row.values,
            "deltas": [None if d is None else float(fmt_number(d)) for d in row.deltas[1:]],
        }
        for split, metric, row in comparison.rows
    ]
    document = {
        "baseline": runs[0].id,
        "candidates": [r.id for r in runs[1:]],
        "names": {r.id: r.name for r in runs},
        "untrained": [r.id for r in runs if r.untrained],
        "warnings": comparison.warnings,
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
    return f"{row['split']} {row['metric']}"


def _md_cell(text: str) -> str:
    """A markdown table cell: a | in a name would end the cell."""
    return text.replace("|", "\\|")


def _value_text(row: MetricRow, column: int, bold: str) -> str:
    """A value as shown (85.30% for a percentage, the screen's formats otherwise), `bold` when the row's best."""
    from tui.data.compare_runs import best_index
    from tui.widgets.compare_table import fmt_value

    value = row.values[column]
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
