"""Starting a watched command: check it, start the detached watcher, and learn the run id it created."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.launch import project_env, start_detached
from engine.core.protocol import RunPaths, read_json, resolve_runs_dir
from engine.core.watch.parsers import AUTO, load_parser

WATCHER_MODULE = "engine.core.watch.watcher"
"""Started by name, never imported here: `python -m` of a module its package already imported warns."""
ANNOUNCE, ANNOUNCE_ERROR = "RUN ", "ERROR "
"""How the watcher's line naming its run (or why it made none) starts, among anything else it prints."""
START_TIMEOUT_S = 60.0
"""Longest wait for the watcher to create the run (it records provenance: a git diff of a large checkout)."""
DEFAULT_STOP_GRACE_S = 10.0


def check_command(command: Sequence[str], cwd: Path) -> None:
    """UserError unless `command[0]` names a program that can be started from `cwd`."""
    if not command:
        raise UserError("no command to watch: give it after --, e.g. labconsole watch -- python train.py")
    program = command[0]
    if os.sep in program or (os.altsep and os.altsep in program):
        path = cwd / program
        if not path.is_file():
            raise UserError(f"command not found: {program} (no such file in {cwd})")
        if not os.access(path, os.X_OK):
            raise UserError(
                f"command not executable: {program} (chmod +x it, or run it through its interpreter)"
            )
    elif shutil.which(program) is None:
        raise UserError(f"command not found: {program} (not on PATH)")


def command_config(command: Sequence[str], cwd: Path, parser: str) -> dict[str, Any]:
    """config.yaml of a watched run: the command, where it ran, and its options as keys (`--lr 0.01` → lr: 0.01),
    so compare sets two watched runs' differing arguments side by side."""
    return {
        "command": shlex.join(command),
        "cwd": str(cwd),
        "parser": parser,
        "args": command_args(command[1:]),
    }


def command_args(args: Sequence[str]) -> dict[str, Any]:
    """`--lr 0.01 --fp16 -b 64 opt=x` → {"lr": 0.01, "fp16": True, "b": 64, "opt": "x"}; positionals are left out."""
    found: dict[str, Any] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg.startswith("-") and len(arg) > 1 and not _is_number(arg):
            key, eq, value = arg.lstrip("-").partition("=")
            if not key:
                continue
            if eq:
                found[key] = _scalar(value)
            elif index < len(args) and _is_value(args[index]):
                found[key] = _scalar(args[index])
                index += 1
            else:
                found[key] = True
        elif "=" in arg and not arg.startswith("="):
            key, _, value = arg.partition("=")
            found[key] = _scalar(value)
    return found


def _is_value(arg: str) -> bool:
    """Whether `arg` after an option is its value: not another option, nor a key=value pair of its own."""
    return ("=" not in arg and not arg.startswith("-")) or _is_number(arg)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _scalar(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def start_watch(
    command: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    name: str | None = None,
    parser: str = AUTO,
    runs_dir: str | os.PathLike[str] | None = None,
    stop_grace: float = DEFAULT_STOP_GRACE_S,
    tags: Sequence[str] = (),
    argv: Sequence[str] | None = None,
    rerun_of: str | None = None,
) -> RunPaths:
    """Watch `command` as a run: checks it and the parser (UserError: nothing is created), starts the detached
    watcher in `cwd` (default: here) and returns the run it created, status running."""
    folder = Path(cwd or os.getcwd()).absolute()
    if not folder.is_dir():
        raise UserError(f"working folder not found: {folder}")
    check_command(command, folder)
    if parser != AUTO:
        load_parser(parser)
    if stop_grace < 0:
        raise UserError(f"--stop-grace must be 0 or more seconds, got {stop_grace}")
    runs = resolve_runs_dir(runs_dir)
    spec = {
        "command": list(command),
        "name": name or default_name(command),
        "parser": parser,
        "runs_dir": str(runs),
        "stop_grace": float(stop_grace),
        "tags": list(tags),
        "argv": list(argv if argv is not None else sys.argv),
        "config": command_config(command, folder, parser),
        "pythonpath": os.environ.get("PYTHONPATH", ""),
        "rerun_of": rerun_of,
    }
    env = project_env()
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as announce:
        watcher = start_detached(
            [sys.executable, "-m", WATCHER_MODULE, json.dumps(spec)], announce, env, cwd=str(folder)
        )
    # reaped when it ends, so a long-lived caller (the console) never keeps it as a zombie
    threading.Thread(target=watcher.wait, name="reap-watcher", daemon=True).start()
    return RunPaths.of(runs, _announced(read_end, watcher))


def _announced(read_end: int, watcher: subprocess.Popen[bytes]) -> str:
    """The run id the watcher announced; UserError with its words when it could not create the run."""
    deadline = time.monotonic() + START_TIMEOUT_S
    said: list[str] = []
    with os.fdopen(read_end, "rb") as pipe:
        while time.monotonic() < deadline:
            raw = pipe.readline()
            if not raw:
                break
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith(ANNOUNCE):
                return line[len(ANNOUNCE) :].strip()
            if line.startswith(ANNOUNCE_ERROR):
                raise UserError(line[len(ANNOUNCE_ERROR) :])
            if line.strip():
                said.append(line.strip())
    if watcher.poll() is None:
        raise UserError(f"the watcher did not create the run within {START_TIMEOUT_S:.0f} s")
    raise UserError(f"the watcher could not start: {said[-1] if said else f'exit code {watcher.wait()}'}")


def default_name(command: Sequence[str]) -> str:
    """The run's name when none is given: the script's (train of `python tools/train.py`), else the program's."""
    for arg in command[1:]:
        if not arg.startswith("-") and Path(arg).suffix in (".py", ".sh", ".bash"):
            return Path(arg).stem
    return Path(command[0]).stem


def watch_spec(paths: RunPaths) -> tuple[list[str], str, str, float] | None:
    """(command, cwd, parser, stop grace) a watched run was started with, for rerun; None for another run."""
    info = read_json(paths.run_json) or {}
    watch, command, cwd = info.get("watch"), info.get("command"), info.get("cwd")
    if not isinstance(watch, dict) or not isinstance(command, list) or not isinstance(cwd, str):
        return None
    grace = watch.get("stop_grace", DEFAULT_STOP_GRACE_S)
    return [str(c) for c in command], cwd, str(watch.get("parser") or AUTO), float(grace)
