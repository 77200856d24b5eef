"""Helpers shared by the CLI verbs: the runs-dir option, run lookup, number formatting."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from engine.core.protocol import RunPaths, find_run, headline, resolve_runs_dir

#: Lets `--runs-dir` come after the verb as well as before it.
RUNS_DIR_PARENT = argparse.ArgumentParser(add_help=False)
RUNS_DIR_PARENT.add_argument(
    "--runs-dir", default=argparse.SUPPRESS, help="runs folder (default: $LABCONSOLE_RUNS or ./runs)"
)


def runs_dir_of(args: argparse.Namespace) -> Path:
    """The runs folder chosen on the command line or by the environment."""
    return resolve_runs_dir(getattr(args, "runs_dir", None))


def lookup(args: argparse.Namespace, ref: str) -> RunPaths:
    """A run by id, unique id prefix, or unique name."""
    return find_run(runs_dir_of(args), ref)


def fmt_duration(seconds: float | None) -> str:
    """1h02m, 3m05s, 12s."""
    if seconds is None or seconds < 0:
        return "-"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def fmt_time(stamp: float | None) -> str:
    """Local date and time of a unix timestamp."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


def run_duration(info: dict[str, Any]) -> float | None:
    """Seconds from start to end (or to now while running)."""
    if not info.get("started"):
        return None
    return (info.get("ended") or time.time()) - info["started"]


def main_metric(info: dict[str, Any]) -> tuple[str, float] | None:
    """The headline number of a run: its published main metric, best value on its first test set."""
    found = headline(info)
    return (found[1], found[2]) if found is not None else None
