"""run.json: the fields a run summary holds, atomic updates, and the status a reader should show."""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.core.protocol.rundir import RunPaths, write_json_atomic

STATUSES = ("queued", "running", "completed", "failed", "stopped", "interrupted")
"""Every value run.json "status" may take."""

FINISHED = {"completed", "failed", "stopped", "interrupted"}
"""Statuses after which the engine process is gone for good."""

OPTIONAL_FIELDS = {
    "launcher": "local | slurm: how the engine was started",
    "launcher_pid": "local: the launcher (torchrun or the engine itself), leader of the run's process group",
    "slurm_job_id": "slurm: the job id (labconsole stop cancels it while queued)",
    "slurm_folder": "slurm: submitit's folder (job pickles, Slurm logs)",
    "slurm_cluster": "slurm: the submitit cluster (slurm, or local for tests)",
    "params": "{total, trainable, by_group: {group: {total, trainable}}}; trainable in the first freeze phase",
    "world_size": "training processes (DDP ranks)",
    "global_batch": "images per optimizer step over all processes (batch_size × grad_accum_steps × world_size)",
    "exit_code": "the engine's exit code (0 ok, 1 failed, 2 bad config or data)",
    "main_metric": "the metric the task is judged and best.pt chosen by, on the first test set (R@1, mIoU, top1)",
    "metric_order": "every metric an evaluation reports, in reading order",
    "data": 'what was read per split: format and counts ("train": "Cityscapes: 2,975 images")',
    "sweep": "{id, name, index (0-based), total, varied: {dotted key: value as written}} of a run in a sweep",
}
"""Fields the engine and launcher add to run.json when they apply (readers must not require them)."""

_LIVE = ("queued", "running")
_STATUS_TAIL_BYTES = 64 << 10  # of events.jsonl, read to find the last status when run.json is lost
# A process whose create time is later than the run's start by more than this is a reused pid.
_PID_REUSE_SLACK_S = 2.0


@functools.lru_cache(maxsize=1)
def this_host() -> str:
    """This machine's host name (cached: listing calls it once per run)."""
    return socket.gethostname()


def new_run_info(
    run_id: str,
    name: str | None,
    task: str | None,
    argv: Iterable[str],
    tags: Iterable[str] = (),
    max_steps: int = 0,
    sweep: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A fresh run.json dict for a queued run; times are unix seconds (like event "t"). `sweep`: the point of a
    sweep the run is ({id, name, index, total, varied}), kept as given."""
    info: dict[str, Any] = {
        "id": run_id,
        "name": name,
        "status": "queued",
        "created": time.time(),
        "started": None,
        "ended": None,
        "pid": None,
        "host": this_host(),
        "argv": list(argv),
        "task": task,
        "tags": list(tags),
        "progress": {"step": 0, "max_steps": int(max_steps), "epoch": 0},
        "best": {},
        "final": {},
        "error": None,
    }
    if sweep is not None:
        info["sweep"] = dict(sweep)
    return info


def update_run_info(path: str | os.PathLike[str], **fields: Any) -> dict[str, Any]:
    """Shallow-merge `fields` into the run.json at `path` (missing → {}), write it atomically, return it.

    A run.json found corrupt (torn, garbage, not an object) is rebuilt from the last good content this process
    read or wrote there, so that a live run keeps its name, times, argv, tags, params…; a warning names the file.
    """
    target = Path(path)
    info, problem = _read_object(target)
    if problem is not None:
        info = _recovered(target, problem)
    info.update(fields)
    write_json_atomic(target, info)
    _remember(target, info)
    return info


_last_good: dict[str, dict[str, Any]] = {}
"""Absolute run.json path → its content as this process last read or wrote it successfully."""


def _remember(path: Path, info: dict[str, Any]) -> None:
    # a copy: callers may change the dict they get back
    _last_good[os.path.abspath(path)] = copy.deepcopy(info)


def _read_object(path: Path) -> tuple[dict[str, Any], str | None]:
    """(run.json's object, None); ({}, None) when there is no file; ({}, what is wrong) when it is unusable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"unreadable ({exc.strerror or exc})"
    try:
        obj = json.loads(data)
    except ValueError:
        return {}, "not valid JSON" if data.strip() else "empty"
    if not isinstance(obj, dict):
        return {}, f"a JSON {type(obj).__name__}, not an object"
    _remember(path, obj)
    return obj, None


def _recovered(path: Path, problem: str) -> dict[str, Any]:
    """What to write over a corrupt run.json: this process's last good copy, else a consistent skeleton."""
    known = _last_good.get(os.path.abspath(path))
    if known is not None:
        _warn(f"{path} was {problem}: restored it from this process's last good copy")
        return copy.deepcopy(known)
    _warn(f"{path} was {problem} and this process never read it: rebuilt it, earlier fields are lost")
    return _skeleton(RunPaths(path.parent))


def _warn(message: str) -> None:
    # stderr: the engine's goes to output.log, the CLI's to the terminal
    print(f"[labconsole] warning: {message}", file=sys.stderr, flush=True)


def _skeleton(paths: RunPaths) -> dict[str, Any]:
    """Every run.json field readers expect, as far as the folder tells: its id, and the last status the
    engine logged (a rebuilt live run must not read "queued")."""
    info = new_run_info(paths.run_id, None, None, ())
    info.update(created=None, host=None, status=_last_logged_status(paths.events) or "queued")
    return info


def _last_logged_status(events: Path) -> str | None:
    """The run.json status of the last `status` event in the end of events.jsonl ("paused" is none)."""
    return _last_status_event(events, STATUSES)


def paused_now(events: Path) -> bool:
    """Whether the engine's last `status` event says paused (run.json keeps "running" while a run is paused)."""
    return _last_status_event(events, (*STATUSES, "paused")) == "paused"


def _last_status_event(events: Path, accepted: tuple[str, ...]) -> str | None:
    """The last `status` event among `accepted` in the end of events.jsonl."""
    try:
        with open(events, "rb") as f:
            start = max(0, os.fstat(f.fileno()).st_size - _STATUS_TAIL_BYTES)
            f.seek(start)
            lines = f.read().split(b"\n")
    except OSError:
        return None
    for line in reversed(lines[1:] if start else lines):  # the seek may have cut the first line
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("kind") == "status" and event.get("status") in accepted:
            return str(event["status"])
    return None


def effective_status(info: dict[str, Any]) -> str:
    """The status to show: a live-looking run whose local engine process is gone is "interrupted"."""
    status = str(info.get("status") or "queued")
    pid = info.get("pid")
    if status not in _LIVE or not isinstance(pid, int) or pid <= 0:
        return status
    if info.get("host") != this_host():
        return status  # another machine's pid means nothing here
    return status if _engine_alive(pid, info.get("started")) else "interrupted"


def _engine_alive(pid: int, started: Any) -> bool:
    """True when `pid` is a live, non-zombie process that could be the run's engine."""
    if os.name == "nt":
        return _psutil_alive(pid, started, default=True)  # os.kill(pid, 0) would terminate it there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    return _psutil_alive(pid, started, default=True)


def _psutil_alive(pid: int, started: Any, default: bool) -> bool:
    """Refine liveness with psutil when installed: zombies and reused pids count as dead."""
    try:
        import psutil  # imported lazily: only needed for runs that look alive
    except ImportError:
        return default
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if isinstance(started, (int, float)) and proc.create_time() > started + _PID_REUSE_SLACK_S:
            return False  # the engine died and the OS gave its pid to a newer process
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return default
    return True


def train_seconds(info: dict[str, Any]) -> float | None:
    """A run's training time: run.json train_seconds (training windows only), else ended − started."""
    seconds = info.get("train_seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        return float(seconds)
    started, ended = info.get("started"), info.get("ended")
    if isinstance(started, (int, float)) and isinstance(ended, (int, float)) and ended >= started:
        return float(ended - started)
    return None


def headline(info: dict[str, Any]) -> tuple[str, str, float] | None:
    """(test set, metric, best value) of a run's main metric on its first test set, as the engine published it.

    Runs written before `main_metric` was published show their first reported metric instead (never a guess
    from the task's name).
    """
    best = info.get("best")
    if not isinstance(best, dict):
        return None
    wanted = info.get("main_metric")
    wanted = wanted if isinstance(wanted, str) else None
    for split, metrics in best.items():
        if not isinstance(metrics, dict) or not metrics:
            continue
        name = wanted or next(iter(metrics))
        value = metrics.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(split), name, float(value)
    return None


def metric_order(info: dict[str, Any], names: Iterable[str]) -> list[str]:
    """`names` in the order the engine published for the run; the rest after them, as they came."""
    names = list(dict.fromkeys(names))
    published = [n for n in info.get("metric_order") or [] if isinstance(n, str)]
    ordered = [n for n in published if n in names]
    return ordered + [n for n in names if n not in ordered]


METRIC_DECIMALS = 4
"""Decimals an evaluation metric is stored with (percentages: 85.3125, not 85.31250000000001)."""

SCALAR_DIGITS = 6
"""Significant digits a logged training scalar (loss, LR, grad norm) is stored with."""


def rounded_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metric values rounded to METRIC_DECIMALS (what they mean, never float noise); other values as they are."""
    return {name: _rounded(value, METRIC_DECIMALS) for name, value in metrics.items()}


def _rounded(value: Any, decimals: int) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    number = float(value)
    return round(number, decimals) if math.isfinite(number) else number


def rounded_scalar(value: float) -> float:
    """A training scalar to SCALAR_DIGITS significant digits (NaN and ±inf stay as they are)."""
    number = float(value)
    return float(f"{number:.{SCALAR_DIGITS}g}") if math.isfinite(number) else number
