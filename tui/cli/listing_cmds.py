"""`labconsole ls` and `labconsole show RUN`: the run history and one run's summary."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from engine.core.protocol import effective_status, list_runs, read_json
from tui.cli.common import (
    RUNS_DIR_PARENT,
    fmt_duration,
    fmt_time,
    lookup,
    main_metric,
    run_duration,
    runs_dir_of,
)

STATUS_STYLE = {
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "stopped": "yellow",
    "interrupted": "yellow",
    "queued": "dim",
}


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    ls = verbs.add_parser("ls", parents=[RUNS_DIR_PARENT], help="list runs, newest first")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(handler=ls_runs)
    show = verbs.add_parser("show", parents=[RUNS_DIR_PARENT], help="one run's summary, config and metrics")
    show.add_argument("run", metavar="RUN", help="run id, unique id prefix, or unique name")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=show_run)


def ls_runs(args: argparse.Namespace) -> int:
    runs = list_runs(runs_dir_of(args))
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "dir"} for r in runs], indent=1))
        return 0
    table = Table(box=None, header_style="bold")
    for name in ("ID", "NAME", "STATUS", "TASK", "STEP", "METRIC", "DURATION", "STARTED"):
        table.add_column(
            name, justify="right" if name in ("STEP", "METRIC", "DURATION") else "left", no_wrap=True
        )
    for run in runs:
        table.add_row(*_ls_row(run))
    Console().print(table if runs else f"no runs in {runs_dir_of(args)}")
    return 0


def _ls_row(run: dict[str, Any]) -> list[str]:
    progress = run.get("progress") or {}
    metric = main_metric(run)
    status = run.get("status", "?")
    return [
        run["id"],
        str(run.get("name", "")),
        f"[{STATUS_STYLE.get(status, '')}]{status}[/]",
        str(run.get("task", "")),
        f"{progress.get('step', 0)}/{progress.get('max_steps', 0)}",
        f"{metric[0]} {metric[1]:.1f}" if metric else "-",
        fmt_duration(run_duration(run)),
        fmt_time(run.get("started") or run.get("created")),
    ]


def show_run(args: argparse.Namespace) -> int:
    paths = lookup(args, args.run)
    info = read_json(paths.run_json) or {}
    info["status"] = effective_status(info)
    config = yaml.safe_load(paths.config.read_text(encoding="utf-8")) if paths.config.is_file() else {}
    if args.json:
        print(json.dumps({"run": info, "config": config}, indent=1))
        return 0
    console = Console()
    console.print(
        f"[bold]{info.get('name')}[/]  {paths.run_id}  [{STATUS_STYLE.get(info['status'], '')}]{info['status']}[/]"
    )
    progress = info.get("progress") or {}
    model = config.get("model", {})
    console.print(
        f"task {info.get('task')}  backbone {model.get('backbone', {}).get('name')}  aggregator "
        f"{model.get('aggregator', {}).get('name')}  loss {config.get('loss', {}).get('name')}  "
        f"step {progress.get('step', 0)}/{progress.get('max_steps', 0)}  "
        f"duration {fmt_duration(run_duration(info))}  started {fmt_time(info.get('started'))}"
    )
    for split, text in (info.get("data") or {}).items():
        console.print(f"data {split}: {text}", markup=False)
    if info.get("error"):
        console.print(f"[red]error:[/] {info['error']}")
    for title, block in (("final", info.get("final") or {}), ("best", info.get("best") or {})):
        if block:
            console.print(metrics_table(title, block))
    console.print(f"folder {paths.root}")
    return 0


def metrics_table(title: str, block: dict[str, dict[str, float]]) -> Table:
    """Splits as rows, metrics as right-aligned columns."""
    names = list(dict.fromkeys(name for metrics in block.values() for name in metrics))
    table = Table(title=title, title_justify="left")
    table.add_column("split")
    for name in names:
        table.add_column(name, justify="right")
    for split, metrics in block.items():
        table.add_row(split, *(f"{metrics[n]:.2f}" if n in metrics else "-" for n in names))
    return table
