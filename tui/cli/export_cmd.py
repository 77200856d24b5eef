"""`labconsole export RUN... --to DIR`: CSV scalars and evaluations per run, PNG curves, the comparison as
markdown and CSV (what `labconsole compare --md` / `--csv` print), and with --figures the figures drawn at each
evaluation with a markdown index."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.core.export import (
    EXPORT_DIR_NEEDED,
    collect,
    collect_figures,
    plot_curves,
    write_csvs,
    write_figures,
)
from engine.core.protocol import RunPaths
from engine.core.protocol.figures import FIGURES_DIR
from engine.core.protocol.rundir import folder_error
from tui.cli.common import RUNS_DIR_PARENT, lookup, run_summary, warn_damage
from tui.cli.compare_cmd import build_comparison, render_comparison


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "export", parents=[RUNS_DIR_PARENT], help="scalars as CSV, plots as PNG, comparison as markdown"
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUN", help="the first run is the baseline of comparison.md"
    )
    parser.add_argument("--to", required=True, metavar="DIR", type=Path)
    parser.add_argument("--no-plots", action="store_true", help="CSV and markdown only (no matplotlib)")
    parser.add_argument(
        "--figures",
        action="store_true",
        help=f"also copy the figures drawn at each evaluation into DIR/RUN/{FIGURES_DIR}/, with an index.md",
    )
    parser.set_defaults(handler=export)


def export(args: argparse.Namespace) -> int:
    paths = list({p.run_id: p for p in (lookup(args, ref) for ref in args.runs)}.values())
    infos = [(p.run_id, run_summary(p)) for p in paths]
    for run_id, info in infos:
        warn_damage(run_id, info)
    runs = [collect(p) for p in paths]
    written = []
    for run in runs:
        if run["skipped"]:
            print(
                f"labconsole: warning: run {run['id']}: skipped {run['skipped']} event line(s) of events.jsonl "
                "holding fields of the wrong type",
                file=sys.stderr,
            )
        written += write_csvs(run, args.to / run["id"])
    if len(paths) > 1:
        from tui.data.compare_runs import load_run

        comparison = build_comparison([load_run(p.root) for p in paths], [info for _, info in infos], "final")
        if any(split for split, _, _ in comparison.rows):  # runs sharing no evaluated metric: no comparison
            for warning in comparison.warnings:
                print(f"labconsole: warning: {warning}", file=sys.stderr)
            for fmt, name in (("markdown", "comparison.md"), ("csv", "comparison.csv")):
                written.append(_write_comparison(args.to / name, render_comparison(comparison, fmt)))
    if not args.no_plots:
        written += plot_curves([p.root for p in paths], args.to)
    if args.figures:
        for run_paths, run in zip(paths, runs):
            written += _export_figures(run_paths, run, args.to / run["id"] / FIGURES_DIR)
    for path in written:
        print(path)
    return 0


def _write_comparison(path: Path, text: object) -> Path:
    try:
        path.write_text(str(text), encoding="utf-8")
    except OSError as exc:
        raise folder_error("cannot write the export folder", path.parent, exc, EXPORT_DIR_NEEDED) from None
    return path


def _export_figures(paths: RunPaths, run: dict[str, Any], folder: Path) -> list[Path]:
    """The run's figures into `folder`; a run without any gets a note, not an error (its CSVs are exported)."""
    figures, warnings = collect_figures(paths)
    for warning in warnings:
        print(f"labconsole: warning: run {run['id']}: {warning}", file=sys.stderr)
    if not figures:
        print(
            f"labconsole: note: run {run['id']} has no figures (evaluated with eval.figures=false, or before "
            "figures existed); its other exports are written",
            file=sys.stderr,
        )
        return []
    title = run["name"] if run["name"] == run["id"] else f"{run['name']} ({run['id']})"
    return write_figures(figures, folder, title)
