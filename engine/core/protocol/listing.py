"""Listing the runs of a runs directory, reading a run's run.json defensively, and resolving a user's run
reference (id, prefix, name or path)."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.protocol.history import HistoryIndex, listing_summary, run_json_stamp
from engine.core.protocol.rundir import RUN_ID_RE, RunPaths, folder_error
from engine.core.protocol.runinfo import STATUSES, effective_status

log = logging.getLogger(__name__)

_MAX_LISTED = 10  # candidates named in an "ambiguous" error
_MAX_REF_SHOWN = 60  # characters of a user's run reference repeated in an error
_TAIL_BYTES = 64 * 1024  # of events.jsonl read to find its last event
_NAME_MAX = 255  # longest file name most file systems take: a longer reference names no run folder

DAMAGED = "damaged"
"""The status shown for a run whose run.json is unreadable or holds a field of the wrong type."""

DAMAGE = "damage"
"""The key of a loaded run.json dict saying what is wrong with the file (absent when it is sound)."""


def run_folders(runs_dir: str | os.PathLike[str]) -> list[os.DirEntry[str]]:
    """Sub-folders of `runs_dir` whose names are valid run ids, not hidden ([] when the folder is missing).

    Raises:
        UserError: `runs_dir` is a file, or cannot be read (naming the folder and the cause).
    """
    try:
        with os.scandir(runs_dir) as it:
            return [e for e in it if RUN_ID_RE.match(e.name) and not e.name.startswith(".") and _is_dir(e)]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise folder_error("cannot read the runs folder", Path(runs_dir), exc) from None


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether a directory entry is a folder (False when it vanished or cannot be inspected)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


# -- run.json, checked field by field -------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_time(value: Any) -> bool:
    # unix seconds a clock can show: NaN, infinities and far-future numbers make time.localtime raise
    return value is None or (_is_number(value) and math.isfinite(value) and 0 <= value < 1e11)


def _is_count(value: Any) -> bool:
    return value is None or (_is_number(value) and math.isfinite(value) and float(value).is_integer())


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _is_texts(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _is_progress(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    counts = all(_is_count(value.get(k)) for k in ("step", "max_steps"))
    epoch = value.get("epoch")
    return counts and (epoch is None or (_is_number(epoch) and math.isfinite(epoch)))


def _is_metrics(value: Any) -> bool:
    return value is None or (
        isinstance(value, dict)
        and all(
            isinstance(metrics, dict) and all(_is_number(v) for v in metrics.values())
            for metrics in value.values()
        )
    )


def _is_text_map(value: Any) -> bool:
    return value is None or (isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))


def _is_status(value: Any) -> bool:
    return value is None or value in STATUSES


def _is_sweep(value: Any) -> bool:
    return value is None or sweep_membership({"sweep": value}) is not None


_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "id": (_is_text, "text"),
    "name": (lambda v: v is None or isinstance(v, str), "text"),
    "status": (_is_status, "text (one of " + ", ".join(STATUSES) + ")"),
    "created": (_is_time, "a time in unix seconds"),
    "started": (_is_time, "a time in unix seconds"),
    "ended": (_is_time, "a time in unix seconds"),
    "pid": (_is_count, "a whole number"),
    "launcher_pid": (_is_count, "a whole number"),
    "host": (_is_text, "text"),
    "argv": (_is_texts, "a list of text"),
    "task": (_is_text, "text"),
    "tags": (_is_texts, "a list of text"),
    "progress": (_is_progress, "an object {step, max_steps, epoch} of numbers"),
    "best": (_is_metrics, "an object {split: {metric: number}}"),
    "final": (_is_metrics, "an object {split: {metric: number}}"),
    "error": (_is_text, "text"),
    "main_metric": (_is_text, "text"),
    "metric_order": (_is_texts, "a list of text"),
    "data": (_is_text_map, "an object {split: text}"),
    "sweep": (_is_sweep, "an object {id, name, index, total, varied}"),
}
"""The run.json fields readers show, each with its check and what it should hold (DESIGN.md, "Run directory")."""


@dataclass(frozen=True)
class SweepMembership:
    """run.json "sweep": which sweep a run belongs to, its point, and the values that point varies."""

    id: str
    name: str
    index: int
    """The point's place in the sweep (0-based)."""
    total: int
    """Points in the sweep when the run was queued (an extended sweep's later runs carry a larger total)."""
    varied: tuple[tuple[str, str], ...]
    """(dotted key, value as written) per varied key, in the sweep's order."""


def sweep_membership(info: dict[str, Any]) -> SweepMembership | None:
    """The run's sweep from its run.json (None when it is in none or the field is malformed)."""
    value = info.get("sweep")
    if not isinstance(value, dict):
        return None
    sweep_id, index, total, varied = (
        value.get("id"),
        value.get("index"),
        value.get("total"),
        value.get("varied"),
    )
    if not (isinstance(sweep_id, str) and RUN_ID_RE.match(sweep_id)):
        return None
    point, points = _whole(index), _whole(total)
    if point is None or points is None or point < 0:
        return None
    if varied is not None and not isinstance(varied, dict):
        return None
    name = value.get("name")
    return SweepMembership(
        id=sweep_id,
        name=name if isinstance(name, str) and name else sweep_id,
        index=point,
        total=max(points, point + 1),
        varied=tuple((str(k), _written(v)) for k, v in (varied or {}).items()),
    )


def _whole(value: Any) -> int | None:
    """A whole number of run.json, or None when it is missing or anything else."""
    return int(value) if _is_number(value) and _is_count(value) else None


def _written(value: Any) -> str:
    """A varied value as text ("1e-3" stays as written; a number read back from JSON prints compactly)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)


def _shown(value: Any, limit: int = 40) -> str:
    """A JSON value as the user wrote it, cut short."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _expected(key: str, value: Any, allowed: str) -> str:
    if key == "status" and isinstance(value, str):
        allowed = allowed.removeprefix("text (").removesuffix(")")
    return f"{key} is {_shown(value)}, expected {allowed}"


def check_run_info(info: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`info` without the fields of the wrong type, and one "status is 42, expected text" line per such field.

    Fields readers do not show are kept as they are (readers must not require them).
    """
    problems, sound = [], dict(info)
    for key, (check, allowed) in _FIELDS.items():
        if key in info and not check(info[key]):
            problems.append(_expected(key, info[key], allowed))
            del sound[key]
    return sound, problems


def read_run_info(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The run.json of a run folder with every shown field of its documented type; None when there is none.

    A file that is not a JSON object, or holds fields of the wrong type, gives what could be kept plus
    `"damage": "run.json is damaged: <why>"`.
    """
    path = RunPaths(Path(folder)).run_json
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return {DAMAGE: f"run.json cannot be read: {exc.strerror or exc}"}
    try:
        info = json.loads(data)
    except ValueError as exc:
        return {DAMAGE: f"run.json is damaged: not JSON ({_json_error(exc)})"}
    if not isinstance(info, dict):
        return {DAMAGE: f"run.json is damaged: it holds {_shown(info)}, expected a JSON object"}
    sound, problems = check_run_info(info)
    if problems:
        sound[DAMAGE] = "run.json is damaged: " + "; ".join(problems)
    return sound


def _json_error(exc: ValueError) -> str:
    """A JSON parse error in a few words (json's own message, or the encoding's)."""
    return str(exc.msg if isinstance(exc, json.JSONDecodeError) else exc).split("\n")[0]


def load_run_info(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The run.json of a run folder as `read_run_info` gives it (damaged runs included), or None when missing."""
    info = read_run_info(folder)
    if info is None:
        log.debug("skipping %s: no run.json", folder)
    return info


def run_status(info: dict[str, Any]) -> str:
    """The status to show: "damaged" for a damaged run.json, else the effective status (see effective_status)."""
    return DAMAGED if info.get(DAMAGE) else effective_status(info)


def last_sign_of_life(folder: str | os.PathLike[str]) -> float | None:
    """When a run's engine last wrote: the time of its last event, else run.json's mtime (None: neither).

    Where the duration of a run whose process died without writing `ended` stops.
    """
    paths = RunPaths(Path(folder))
    last_event = _last_event_time(paths.events)
    if last_event is not None:
        return last_event
    try:
        return paths.run_json.stat().st_mtime
    except OSError:
        return None


def _last_event_time(path: Path) -> float | None:
    """The `t` of the last well-formed line of an events file, reading only its tail."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        try:
            stamp = json.loads(line).get("t")
        except (ValueError, AttributeError):
            continue  # a torn last line, or the cut first one
        if _is_time(stamp) and stamp is not None:
            return float(stamp)
    return None


def _created_key(info: dict[str, Any]) -> float:
    """Sort key for "created"; runs with a missing or odd value sort last."""
    created = info.get("created")
    return float(created) if isinstance(created, (int, float)) else float("-inf")


def list_runs(runs_dir: str | os.PathLike[str], whole: bool = True) -> list[dict[str, Any]]:
    """Every run with a run.json, newest first, with "id", "dir" and the status to show ("damaged" and a
    "damage" reason for a run.json that is broken or holds fields of the wrong type).

    run.json files unchanged since the last listing come from the history index (one stat per run); without
    `whole`, each run is its listing summary (history.listing_summary: what `ls` shows), ten times faster.
    """
    history = HistoryIndex(runs_dir)
    runs, seen = [], set()
    for entry in run_folders(runs_dir):
        stamp = run_json_stamp(entry.path)
        if stamp is None:
            continue
        info = history.get(entry.name, stamp, whole)
        if info is None:
            info = load_run_info(entry.path)
            if info is None:
                continue
            history.put(entry.name, stamp, info)
            if not whole:
                info = listing_summary(info)
        seen.add(entry.name)
        info["id"] = entry.name  # the folder name wins: it is what every command addresses
        info["dir"] = Path(entry.path)
        info["status"] = run_status(info)
        runs.append(info)
    history.save(keep=seen)
    runs.sort(key=lambda r: (_created_key(r), r["id"]), reverse=True)
    return runs


def _shown_ref(ref: str) -> str:
    """A run reference as repeated in an error: cut short when someone pasted a whole file."""
    if len(ref) <= _MAX_REF_SHOWN:
        return ref
    return f"{ref[:_MAX_REF_SHOWN]}… ({len(ref):,} characters)"


def _exists(check: Callable[[], bool]) -> bool:
    """A file-system test that says False instead of raising (a name too long, a file in the path, …)."""
    try:
        return check()
    except (OSError, ValueError):
        return False


def _is_run_id(ref: str) -> bool:
    """Whether `ref` could be a run folder's name."""
    return bool(RUN_ID_RE.match(ref)) and not ref.startswith(".") and len(ref) <= _NAME_MAX


def _as_path_ref(runs_dir: Path, ref: str) -> RunPaths | None:
    """A reference written as a path to a run folder (shell tab-completion gives `runs/<id>/`)."""
    if os.sep not in ref and (os.altsep is None or os.altsep not in ref):
        return None
    folder = Path(ref).expanduser()
    if not _exists(RunPaths(folder).run_json.is_file):
        return None
    folder = folder.resolve()
    return RunPaths.of(folder.parent, folder.name)


def _ambiguous(ref: str, runs_dir: Path, ids: list[str]) -> UserError:
    """Error naming the runs that `ref` could mean."""
    shown = ", ".join(sorted(ids)[:_MAX_LISTED]) + (", …" if len(ids) > _MAX_LISTED else "")
    return UserError(
        f"run '{_shown_ref(ref)}' is ambiguous in {runs_dir}: it matches {shown}; give more of the id"
    )


def find_run(runs_dir: str | os.PathLike[str], ref: str) -> RunPaths:
    """Resolve `ref`: an exact id, else a unique id prefix, else a unique run name (or a folder path)."""
    runs = Path(runs_dir)
    if not ref or len(ref) > _NAME_MAX * 16 or "\0" in ref:
        raise _no_run(ref, runs)
    if _is_run_id(ref) and _exists((runs / ref).is_dir):
        return RunPaths.of(runs, ref)
    by_path = _as_path_ref(runs, ref)
    if by_path is not None:
        return by_path
    ids = [e.name for e in run_folders(runs)]
    prefixed = [i for i in ids if i.startswith(ref)]
    if len(prefixed) == 1:
        return RunPaths.of(runs, prefixed[0])
    named = [r["id"] for r in list_runs(runs, whole=False) if r.get("name") == ref]
    if len(named) == 1:
        return RunPaths.of(runs, named[0])
    candidates = sorted(set(prefixed) | set(named))
    if candidates:
        raise _ambiguous(ref, runs, candidates)
    raise _no_run(ref, runs)


def _no_run(ref: str, runs_dir: Path) -> UserError:
    return UserError(f"no run '{_shown_ref(ref)}' in {runs_dir}; `labconsole ls` lists them")
