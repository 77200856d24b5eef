"""Deleting runs without losing them by mistake: a deleted run folder moves to `<runs>/.trash/`, where
`labconsole trash` lists it, restores it or empties the trash for good. Archiving only hides a run from
listings (`archived: true` in its run.json): it stays where it is, and every command still reaches it."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from engine.core.errors import UserError
from engine.core.protocol.listing import read_run_info, run_status
from engine.core.protocol.rundir import RunPaths, folder_error, validate_run_id
from engine.core.protocol.runinfo import update_run_info

TRASH = ".trash"
"""The trash folder inside the runs folder (hidden: listings skip dot-folders)."""
LIVE = ("running", "queued")


@dataclass(frozen=True)
class TrashedRun:
    """A run folder in the trash."""

    run_id: str
    folder: Path
    name: str
    deleted: float | None
    """When it was moved there (the folder's change time)."""
    size_bytes: int


def trash_folder(runs_dir: Path) -> Path:
    return Path(runs_dir) / TRASH


def move_to_trash(paths: RunPaths) -> Path:
    """Move a finished run's folder to the trash; refuses a live run (stop it first)."""
    info = read_run_info(paths.root) or {}
    status = run_status(info)
    if status in LIVE:
        raise UserError(f"run {paths.run_id} is {status}: stop it first (labconsole stop {paths.run_id})")
    target = trash_folder(paths.root.parent) / paths.run_id
    if target.exists():  # deleted before under the same id (restored, then deleted again): keep both
        target = target.with_name(f"{paths.run_id}.{int(time.time())}")
    try:
        target.parent.mkdir(exist_ok=True)
        os.replace(paths.root, target)
        os.utime(target)  # its mtime says when it was deleted
    except OSError as exc:
        raise folder_error("cannot move the run to the trash", paths.root, exc) from None
    return target


def list_trash(runs_dir: Path) -> list[TrashedRun]:
    """Trashed runs, most recently deleted first."""
    folder = trash_folder(runs_dir)
    if not folder.is_dir():
        return []
    found = []
    for entry in os.scandir(folder):
        if not entry.is_dir():
            continue
        info = read_run_info(entry.path) or {}
        found.append(
            TrashedRun(
                entry.name,
                Path(entry.path),
                str(info.get("name") or ""),
                _mtime(entry.path),
                _size(entry.path),
            )
        )
    return sorted(found, key=lambda t: t.deleted or 0.0, reverse=True)


def restore_from_trash(runs_dir: Path, run_id: str) -> Path:
    """Move a trashed run back into the runs folder under its id."""
    source = trash_folder(runs_dir) / validate_run_id(run_id)
    if not source.is_dir():
        raise UserError(f"no run '{run_id}' in the trash; `labconsole trash` lists it")
    original = run_id.rsplit(".", 1)[0] if run_id.rsplit(".", 1)[-1].isdigit() else run_id
    target = Path(runs_dir) / original
    if target.exists():
        raise UserError(f"cannot restore {run_id}: {target} exists")
    os.replace(source, target)
    return target


def empty_trash(runs_dir: Path) -> tuple[int, int]:
    """Delete every trashed run for good; (runs deleted, bytes freed)."""
    runs = list_trash(runs_dir)
    for run in runs:
        shutil.rmtree(run.folder, ignore_errors=True)
    return len(runs), sum(r.size_bytes for r in runs)


def set_archived(paths: RunPaths, archived: bool) -> None:
    """Hide a run from listings (or show it again); its folder stays where it is."""
    update_run_info(paths.run_json, archived=archived)


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _size(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total
