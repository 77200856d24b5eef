"""`labconsole demo`: start the embedded VPR demo (or reattach to a running one) and open the console on it."""

from __future__ import annotations

import argparse
import sys

from engine.core.launch import launch_run
from engine.core.protocol import RunPaths, list_runs
from tui.cli.common import RUNS_DIR_PARENT, runs_dir_of


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "demo",
        parents=[RUNS_DIR_PARENT],
        help="train the demo and watch it in the console",
        description="Start presets/runs/demo.yaml (synthetic data made on first use) unless a "
        "demo run is already running, then open the console on its monitor.",
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.add_argument("--headless", action="store_true", help="no console: progress bar and final table")
    parser.set_defaults(handler=demo)


def demo(args: argparse.Namespace) -> int:
    runs_dir = runs_dir_of(args)
    if args.headless or not sys.stdout.isatty():
        from tui.cli.run_cmd import run

        return run(
            argparse.Namespace(
                config="demo", overrides=args.overrides, runs_dir=str(runs_dir), name=None, detach=False
            )
        )
    running = [
        r for r in list_runs(runs_dir) if r.get("name") == "demo" and r["status"] in ("running", "queued")
    ]
    paths = (
        RunPaths(running[0]["dir"])
        if running and not args.overrides
        else launch_run("demo", args.overrides, runs_dir, argv=["labconsole", "demo", *args.overrides])
    )
    from tui.app import run_console

    return run_console(runs_dir, open_run=paths.root)
