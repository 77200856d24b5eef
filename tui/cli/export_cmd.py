"""`labconsole export RUN... --to DIR`: CSV scalars and evaluations per run, PNG curves, a markdown comparison."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.core.export import collect, plot_curves, write_csvs
from engine.core.protocol import read_json
from tui.cli.common import RUNS_DIR_PARENT, lookup
from tui.cli.compare_cmd import comparison_rows, render


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "export", parents=[RUNS_DIR_PARENT], help="scalars as CSV, plots as PNG, comparison as markdown"
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUN", help="the first run is the baseline of comparison.md"
    )
    parser.add_argument("--to", required=True, metavar="DIR", type=Path)
    parser.add_argument("--no-plots", action="store_true", help="CSV and markdown only (no matplotlib)")
    parser.set_defaults(handler=export)


def export(args: argparse.Namespace) -> int:
    paths = list({p.run_id: p for p in (lookup(args, ref) for ref in args.runs)}.values())
    runs = [collect(p) for p in paths]
    written = []
    for run in runs:
        written += write_csvs(run, args.to / run["id"])
    if len(paths) > 1:
        infos = [(p.run_id, read_json(p.run_json) or {}) for p in paths]
        rows = comparison_rows(infos, "final")
        if rows:
            (args.to / "comparison.md").write_text(render(rows, [p.run_id for p in paths], "markdown"))
            written.append(args.to / "comparison.md")
    if not args.no_plots:
        written += plot_curves([p.root for p in paths], args.to)
    for path in written:
        print(path)
    return 0
