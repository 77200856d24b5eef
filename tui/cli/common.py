"""Helpers shared by the CLI verbs: the runs-dir option, run lookup, reading a run's files, number formatting."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from engine.core.protocol import RunPaths, find_run, headline, resolve_runs_dir
from engine.core.protocol.listing import DAMAGE, last_sign_of_life, read_run_info, run_status

LIVE_STATUSES = ("queued", "running")
"""Statuses whose duration runs on with the clock."""

#: Lets `--runs-dir` come after the verb as well as before it.
RUNS_DIR_PARENT = argparse.ArgumentParser(add_help=False)
RUNS_DIR_PARENT.add_argument(
    "--runs-dir", default=argparse.SUPPRESS, help="runs folder (default: $LABCONSOLE_RUNS or ./runs)"
)


PIPED_WIDTH = 100_000
"""Console width when the output is a file or a pipe: wide enough that no line is ever cut or wrapped."""


def console_for(stream: TextIO | None = None) -> Console:
    """A rich console on `stream` (default stdout): the terminal's width on a terminal; piped or redirected,
    no width at all in effect, so tables and lines come out whole (never cut at 80 columns with an ellipsis)."""
    stream = stream or sys.stdout
    if stream.isatty():
        return Console(file=stream)
    return Console(file=stream, width=PIPED_WIDTH, soft_wrap=True)


def stderr_console() -> Console:
    """`console_for(sys.stderr)`: for reports that must stay off a piped stdout."""
    return console_for(sys.stderr)


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


def run_duration(info: dict[str, Any], folder: Path | None = None) -> float | None:
    """Seconds from start to end: to now while live; for a run that died without writing `ended`, to its last
    sign of life in `folder` (its duration must not grow with the clock)."""
    started, ended = info.get("started"), info.get("ended")
    if not started:
        return None
    if ended:
        return float(ended - started)
    if info.get("status") in LIVE_STATUSES:
        return time.time() - started
    last = last_sign_of_life(folder) if folder is not None else None
    return None if last is None else max(0.0, last - started)


def run_summary(paths: RunPaths) -> dict[str, Any]:
    """A run's run.json with only well-typed fields, its "status" to show, and "damage" when the file is broken."""
    info = read_run_info(paths.root)
    if info is None:
        info = {DAMAGE: "run.json is missing"}
    info["status"] = run_status(info)
    return info


def warn_damage(run_id: str, info: dict[str, Any]) -> None:
    """One warning line on stderr for a damaged run that a verb still uses (its damaged fields left out)."""
    if info.get(DAMAGE):
        print(f"labconsole: warning: run {run_id}: {info[DAMAGE]}; using the rest", file=sys.stderr)


def read_config(paths: RunPaths) -> tuple[dict[str, Any], str | None]:
    """A run's config.yaml as a mapping, and what is wrong with it (None when it is sound)."""
    import yaml

    try:
        text = paths.config.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, "config.yaml is missing"
    except (OSError, UnicodeDecodeError) as exc:
        return {}, f"config.yaml cannot be read: {getattr(exc, 'strerror', None) or exc}"
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        return {}, f"config.yaml is damaged: not YAML ({getattr(exc, 'problem', None) or 'parse error'}{at})"
    if not isinstance(config, dict):
        return {}, f"config.yaml is damaged: it holds {type(config).__name__}, expected a mapping of sections"
    return config, None


def main_metric(info: dict[str, Any]) -> tuple[str, float] | None:
    """The headline number of a run: its published main metric, best value on its first test set."""
    found = headline(info)
    return (found[1], found[2]) if found is not None else None


def is_untrained(info: dict[str, Any]) -> bool:
    """Evaluated but never trained (max_steps 0, or stopped at step 0): its "final" is the initial weights'."""
    progress = info.get("progress") or {}
    evaluated = bool(info.get("final") or info.get("best"))
    return evaluated and isinstance(progress, dict) and progress.get("step") == 0
