"""Listing the runs of a runs directory and resolving a user's run reference (id, prefix, name or path)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.protocol.rundir import RUN_ID_RE, RunPaths, read_json
from engine.core.protocol.runinfo import effective_status

log = logging.getLogger(__name__)

_MAX_LISTED = 10  # candidates named in an "ambiguous" error


def run_folders(runs_dir: str | os.PathLike[str]) -> list[os.DirEntry[str]]:
    """Sub-folders of `runs_dir` whose names are valid run ids, not hidden ([] when the folder is missing)."""
    try:
        with os.scandir(runs_dir) as it:
            return [e for e in it if RUN_ID_RE.match(e.name) and not e.name.startswith(".") and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def load_run_info(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The run.json of a run folder, or None (logged at debug) when missing, broken or not an object."""
    info = read_json(RunPaths(Path(folder)).run_json)
    if info is None:
        log.debug("skipping %s: no readable run.json", folder)
    return info


def _created_key(info: dict[str, Any]) -> float:
    """Sort key for "created"; runs with a missing or odd value sort last."""
    created = info.get("created")
    return float(created) if isinstance(created, (int, float)) else float("-inf")


def list_runs(runs_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every run with a readable run.json, newest first, with "id", "dir" and the effective "status"."""
    runs = []
    for entry in run_folders(runs_dir):
        info = load_run_info(entry.path)
        if info is None:
            continue
        info["id"] = entry.name  # the folder name wins: it is what every command addresses
        info["dir"] = Path(entry.path)
        info["status"] = effective_status(info)
        runs.append(info)
    runs.sort(key=lambda r: (_created_key(r), r["id"]), reverse=True)
    return runs


def _as_path_ref(runs_dir: Path, ref: str) -> RunPaths | None:
    """A reference written as a path to a run folder (shell tab-completion gives `runs/<id>/`)."""
    if os.sep not in ref and (os.altsep is None or os.altsep not in ref):
        return None
    folder = Path(ref).expanduser()
    if not RunPaths(folder).run_json.is_file():
        return None
    folder = folder.resolve()
    return RunPaths.of(folder.parent, folder.name)


def _ambiguous(ref: str, runs_dir: Path, ids: list[str]) -> UserError:
    """Error naming the runs that `ref` could mean."""
    shown = ", ".join(sorted(ids)[:_MAX_LISTED]) + (", …" if len(ids) > _MAX_LISTED else "")
    return UserError(f"run '{ref}' is ambiguous in {runs_dir}: it matches {shown}; give more of the id")


def find_run(runs_dir: str | os.PathLike[str], ref: str) -> RunPaths:
    """Resolve `ref`: an exact id, else a unique id prefix, else a unique run name (or a folder path)."""
    runs = Path(runs_dir)
    if ref and RUN_ID_RE.match(ref) and not ref.startswith(".") and (runs / ref).is_dir():
        return RunPaths.of(runs, ref)
    by_path = _as_path_ref(runs, ref) if ref else None
    if by_path is not None:
        return by_path
    ids = [e.name for e in run_folders(runs)]
    prefixed = [i for i in ids if ref and i.startswith(ref)]
    if len(prefixed) == 1:
        return RunPaths.of(runs, prefixed[0])
    named = [r["id"] for r in list_runs(runs) if ref and r.get("name") == ref]
    if len(named) == 1:
        return RunPaths.of(runs, named[0])
    candidates = sorted(set(prefixed) | set(named))
    if candidates:
        raise _ambiguous(ref, runs, candidates)
    raise UserError(f"no run '{ref}' in {runs}; `labconsole ls` lists them")
