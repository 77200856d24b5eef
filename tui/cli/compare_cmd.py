"""`labconsole compare RUN... --baseline RUN`: metrics side by side with deltas, as table, markdown, CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import io
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.core.errors import UserError
from tui.cli.common import RUNS_DIR_PARENT, lookup, run_summary, warn_damage


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "compare", parents=[RUNS_DIR_PARENT], help="compare runs' metrics against a baseline"
    )
    parser.add_argument("runs", nargs="+", metavar="RUN")
    parser.add_argument("--baseline", metavar="RUN", help="the reference run (default: the first RUN)")
    parser.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table")
    parser.add_argument(
        "--use",
        choices=("final", "best"),
        default="final",
        help="compare the last evaluation (final) or the best value seen (best)",
    )
    parser.set_defaults(handler=compare)


def compare(args: argparse.Namespace) -> int:
    refs = list(dict.fromkeys(([args.baseline] if args.baseline else []) + args.runs))
    runs = [(paths.run_id, run_summary(paths)) for paths in (lookup(args, r) for r in refs)]
    runs = list(dict(runs).items())  # the same run named twice (prefix and id) counts once
    for run_id, info in runs:
        warn_damage(run_id, info)
    if len(runs) < 2:
        raise UserError("compare needs at least two different runs (a baseline and a candidate)")
    rows = comparison_rows(runs, args.use)
    if not rows:
        raise UserError(f"the runs share no evaluated metric ({args.use}); evaluate them first")
    output = render(rows, [rid for rid, _ in runs], args.format)
    if isinstance(output, Table):
        Console().print(output)
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


def render(rows: list[dict[str, Any]], run_ids: list[str], fmt: str) -> str | Table:
    """Format the comparison; markdown follows the experiment logs' Metric | Baseline | Candidate | Delta."""
    header = ["Metric", "Baseline"] + [
        c for rid in run_ids[1:] for c in (_candidate(rid, run_ids), _delta(rid, run_ids))
    ]
    body = [[_label(row)] + _cells(row, fmt) for row in rows]
    if fmt == "json":
        return json.dumps({"baseline": run_ids[0], "candidates": run_ids[1:], "rows": rows}, indent=1) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["split", "metric", run_ids[0]] + [c for rid in run_ids[1:] for c in (rid, f"delta {rid}")]
        )
        for row in rows:
            writer.writerow([row["split"], row["metric"]] + _raw_cells(row))
        return out.getvalue()
    if fmt == "markdown":
        lines = [
            f"Baseline: `{run_ids[0]}`; candidates: " + ", ".join(f"`{r}`" for r in run_ids[1:]),
            "",
            "| " + " | ".join(header) + " |",
            "| :--- |" + " :---: |" * (len(header) - 1),
        ]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines) + "\n"
    table = Table(title=f"baseline {run_ids[0]}")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for cells in body:
        table.add_row(escape(cells[0]), *cells[1:])  # split and metric names are the user's text, not markup
    return table


def _candidate(rid: str, run_ids: list[str]) -> str:
    return "Candidate" if len(run_ids) == 2 else rid


def _delta(rid: str, run_ids: list[str]) -> str:
    return "Delta" if len(run_ids) == 2 else f"Δ {rid}"


def _label(row: dict[str, Any]) -> str:
    return f"{row['split']} {row['metric']}"


def _raw_cells(row: dict[str, Any]) -> list[str]:
    cells = ["" if row["values"][0] is None else f"{row['values'][0]:.2f}"]
    for value, delta in zip(row["values"][1:], row["deltas"]):
        cells += ["" if value is None else f"{value:.2f}", "" if delta is None else f"{delta:+.2f}"]
    return cells


def _cells(row: dict[str, Any], fmt: str) -> list[str]:
    """Values with the best of the row in bold (markdown) and deltas coloured (table)."""
    present = [v for v in row["values"] if v is not None]
    best = max(present) if present else None
    cells = []
    for i, value in enumerate(row["values"]):
        text = "-" if value is None else f"{value:.2f}%" if fmt == "markdown" else f"{value:.2f}"
        if value is not None and value == best and len(present) > 1:
            text = f"**{text}**" if fmt == "markdown" else f"[bold]{text}[/]"
        cells.append(text)
        if i > 0:
            cells.append(_delta_cell(row["deltas"][i - 1], fmt))
    return cells


def _delta_cell(delta: float | None, fmt: str) -> str:
    if delta is None:
        return "-"
    text = f"{delta:+.2f}" + ("%" if fmt == "markdown" else "")
    if fmt == "markdown":
        return text
    return f"[green]{text}[/]" if delta > 0 else f"[red]{text}[/]" if delta < 0 else text
