"""`labconsole watch [--name N] [--parser NAME|auto] -- CMD ARGS...`: any command as a run, its output parsed."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.protocol import EventReader, RunPaths, effective_status, read_json
from engine.core.watch import AUTO, parser_names, start_watch, watch_spec
from engine.core.watch.start import DEFAULT_STOP_GRACE_S
from tui.cli.common import RUNS_DIR_PARENT, runs_dir_of

FOLLOW_POLL_S = 0.5


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "watch",
        parents=[RUNS_DIR_PARENT],
        help="run any command (your own train.py) as a run: output logged, metrics parsed from its lines",
        description="Start CMD as a run, detached (it survives closing the terminal or SSH): its output goes to "
        "the run's output.log, its training and evaluation lines become curves and eval tables (YOLOX, mmengine, "
        "Lightning progress bars, key=value lines), its exit code the run's status. `labconsole stop RUN` sends "
        "SIGINT to it, then SIGTERM after the grace, then SIGKILL. Put the command after --.",
    )
    parser.add_argument("--name", help="the run's name (default: the script's, train of python train.py)")
    parser.add_argument(
        "--parser",
        default=AUTO,
        metavar="NAME",
        help=f"how to read its lines: {', '.join(parser_names())} (default auto: by the first lines that match)",
    )
    parser.add_argument(
        "--stop-grace",
        type=float,
        default=DEFAULT_STOP_GRACE_S,
        metavar="SECONDS",
        help=f"after stop's SIGINT, wait this long before SIGTERM, and again before SIGKILL "
        f"(default {DEFAULT_STOP_GRACE_S:.0f})",
    )
    parser.add_argument("--tag", action="append", default=[], help="a tag for the run (repeatable)")
    parser.add_argument("--follow", action="store_true", help="stay and print the parsed values as they come")
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the command to watch"
    )
    parser.set_defaults(handler=watch)


def watch(args: argparse.Namespace) -> int:
    """Exit 0 once started (with --follow: 0 completed or stopped, 1 failed or interrupted); 2 bad input."""
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UserError(
            "no command to watch: give it after --, e.g. labconsole watch -- python train.py --lr 0.01"
        )
    paths = start_watch(
        command,
        name=args.name,
        parser=args.parser,
        runs_dir=runs_dir_of(args),
        stop_grace=args.stop_grace,
        tags=args.tag,
        argv=sys.argv,
    )
    _say_started(paths, command)
    return follow_watched(paths) if args.follow else 0


def rewatch(
    source: RunPaths, runs_dir: Path | None = None, name: str | None = None, follow: bool = False
) -> int:
    """`labconsole rerun` of a watched run: the same command in the same folder, as a new run."""
    spec = watch_spec(source)
    if spec is None:
        raise UserError(f"run {source.run_id} was not started by labconsole watch (no command recorded)")
    command, cwd, parser, grace = spec
    info = read_json(source.run_json) or {}
    paths = start_watch(
        command,
        cwd=cwd,
        name=name or info.get("name"),
        parser=parser,
        runs_dir=runs_dir,
        stop_grace=grace,
        tags=[str(t) for t in info.get("tags") or []],
        argv=sys.argv,
        rerun_of=source.run_id,
    )
    _say_started(paths, command, f", a rerun of {source.run_id}")
    return follow_watched(paths) if follow else 0


def _say_started(paths: RunPaths, command: list[str], note: str = "") -> None:
    print(f"watching `{shlex.join(command)}` as run {paths.run_id}  ({paths.root}){note}")
    print(
        f"  follow it: labconsole show {paths.run_id}  ·  the console: labconsole  ·  "
        f"stop it: labconsole stop {paths.run_id}"
    )


def follow_watched(paths: RunPaths) -> int:
    """Print each parsed value line and evaluation until the run ends (Ctrl-C leaves it running)."""
    reader = EventReader(paths.events)
    try:
        while True:
            for event in reader.read_new():
                line = event_line(event)
                if line:
                    print(line, flush=True)
            info = read_json(paths.run_json) or {}
            status = effective_status(info)
            if status not in ("queued", "running"):
                for event in reader.read_new():
                    line = event_line(event)
                    if line:
                        print(line, flush=True)
                error = f": {info['error']}" if info.get("error") else ""
                print(f"run {paths.run_id} {status}{error}")
                return 0 if status in ("completed", "stopped") else 1
            time.sleep(FOLLOW_POLL_S)
    except KeyboardInterrupt:
        print(f"\nstopped following; run {paths.run_id} goes on (labconsole stop {paths.run_id} ends it)")
        return 0


def event_line(event: dict[str, Any]) -> str:
    """One printed line for a scalar or eval event ("" for the others)."""
    kind = event.get("kind")
    if kind == "scalar":
        values = event.get("values") or {}
        shown = "  ".join(f"{k} {_number(v)}" for k, v in values.items())
        return f"step {event.get('step')}  {shown}"
    if kind == "eval":
        metrics = event.get("metrics") or {}
        shown = "  ".join(f"{k} {_number(v)}" for k, v in metrics.items())
        return f"eval {event.get('split')} at step {event.get('step')}  {shown}"
    return ""


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
