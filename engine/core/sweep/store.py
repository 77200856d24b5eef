"""A sweep's folder, `<runs>/.sweeps/<SWEEP_ID>/`: the plan (sweep.json), the state of every point (state.json),
the queue's pid file, and the readers' view of them (list_sweeps, load_sweep).

state.json is changed only under the folder's lock (a read-modify-write by the queue or the CLI), and written
atomically, so readers never see half a file. Readers take each point's status from its run's run.json: the
state file may lag the runs (the queue writes it once a second; a Slurm sweep has no queue at all).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.protocol import RUN_ID_RE, RunPaths, effective_status, read_json, write_json_atomic
from engine.core.protocol.rundir import folder_error, new_run_id

SWEEPS_FOLDER = ".sweeps"
"""Under the runs folder; hidden, so run listings never take it for a run."""

POINT_STATUSES = ("queued", "running", "completed", "failed", "stopped", "skipped")
"""A point's status in state.json. skipped: never started, because the sweep was stopped first."""

POINT_FINISHED = {"completed", "failed", "stopped", "skipped"}

SWEEP_STATUSES = ("running", "paused", "stopping", "stopped", "completed", "interrupted")
"""A sweep's status as readers show it. interrupted: points left to run and no queue running them (after a
reboot: `labconsole sweep resume ID`)."""

_RUN_TO_POINT = {"interrupted": "stopped"}
"""A run whose engine died (a reboot, a kill) is resumable from its checkpoint like a stopped one."""


@dataclass(frozen=True)
class SweepPaths:
    """The files of one sweep folder."""

    root: Path

    @classmethod
    def of(cls, runs_dir: str | os.PathLike[str], sweep_id: str) -> SweepPaths:
        if not isinstance(sweep_id, str) or not RUN_ID_RE.match(sweep_id) or sweep_id.startswith("."):
            raise UserError(f"bad sweep id '{sweep_id}': use only letters, digits, '.', '_' and '-'")
        return cls(Path(runs_dir) / SWEEPS_FOLDER / sweep_id)

    @property
    def sweep_id(self) -> str:
        return self.root.name

    @property
    def runs_dir(self) -> Path:
        return self.root.parent.parent

    @property
    def plan(self) -> Path:
        """sweep.json: what was asked (config, fixed overrides, axes, mode, parallel, baseline)."""
        return self.root / "sweep.json"

    @property
    def state(self) -> Path:
        """state.json: per point its index, varied values, run id and status; pause and stop requests."""
        return self.root / "state.json"

    @property
    def pid_file(self) -> Path:
        """queue.pid: the queue's pid, locked by it for as long as it runs."""
        return self.root / "queue.pid"

    @property
    def queue_log(self) -> Path:
        """queue.log: what the queue did (starts, ends, errors), for the curious and for post-mortems."""
        return self.root / "queue.log"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"


@dataclass
class PointState:
    """One point of a sweep."""

    index: int
    varied: dict[str, str]
    run_id: str | None = None
    status: str = "queued"
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "varied": dict(self.varied),
            "run_id": self.run_id,
            "status": self.status,
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class SweepState:
    """A sweep as readers see it: its plan, and each point with the status of its run."""

    id: str
    name: str
    folder: Path
    status: str
    config: str
    mode: str
    parallel: int
    launcher: str
    axes: dict[str, list[str]]
    overrides: list[str]
    baseline_index: int
    created: float | None
    points: list[PointState] = field(default_factory=list)
    queue_pid: int | None = None
    """The queue process while it runs (None: no queue running, or a Slurm sweep)."""

    @property
    def total(self) -> int:
        return len(self.points)

    @property
    def finished(self) -> int:
        """Points whose run ended (or that were skipped)."""
        return sum(p.status in POINT_FINISHED for p in self.points)

    @property
    def varied_keys(self) -> list[str]:
        return list(self.axes)


def sweeps_root(runs_dir: str | os.PathLike[str]) -> Path:
    return Path(runs_dir) / SWEEPS_FOLDER


def create_sweep_folder(runs_dir: str | os.PathLike[str], name: str) -> SweepPaths:
    """A new, empty sweep folder named like a run (`YYYYmmdd-HHMMSS-name`); exclusive mkdir is the lock."""
    root = sweeps_root(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise folder_error("cannot create the sweeps folder", root, exc) from None
    base = new_run_id(name)
    for n in range(1, 10_000):
        sweep_id = base if n == 1 else f"{base}-{n}"
        try:
            os.mkdir(root / sweep_id)
        except FileExistsError:
            continue
        except OSError as exc:
            raise folder_error("cannot create a sweep folder in", root, exc) from None
        return SweepPaths(root / sweep_id)
    raise UserError(f"cannot create a sweep folder for '{base}' in {root}: too many sweeps with that id")


@contextlib.contextmanager
def locked(paths: SweepPaths) -> Iterator[None]:
    """Hold the sweep folder's lock (state.json read-modify-write by the queue or the CLI)."""
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_state(paths: SweepPaths) -> dict[str, Any]:
    """state.json as stored (a UserError naming the file when it is missing or damaged)."""
    state = read_json(paths.state)
    if state is None or not isinstance(state.get("points"), list):
        raise UserError(f"sweep {paths.sweep_id}: {paths.state} is missing or damaged")
    return state


def write_state(paths: SweepPaths, state: dict[str, Any]) -> None:
    state["updated"] = time.time()
    write_json_atomic(paths.state, state)


def read_plan(paths: SweepPaths) -> dict[str, Any]:
    plan = read_json(paths.plan)
    if plan is None:
        raise UserError(f"sweep {paths.sweep_id}: {paths.plan} is missing or damaged")
    return plan


def queue_pid(paths: SweepPaths) -> int | None:
    """The pid of the queue running this sweep, or None when none holds the pid file's lock."""
    try:
        fd = os.open(paths.pid_file, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:  # held: a queue is running
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        return None
    finally:
        os.close(fd)


def hold_pid_file(paths: SweepPaths) -> int:
    """Lock the pid file for this process's lifetime and write our pid in it; the descriptor to keep open.

    Raises:
        UserError: another queue already runs this sweep.
    """
    fd = os.open(paths.pid_file, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        other = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise UserError(f"sweep {paths.sweep_id} already has a queue running (pid {other or '?'})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def point_status(runs_dir: Path, point: dict[str, Any]) -> str:
    """A point's status now: from its run's run.json once it has a run, else as state.json says."""
    stored = str(point.get("status") or "queued")
    run_id = point.get("run_id")
    if not run_id or stored in ("skipped",):
        return stored
    info = read_json(RunPaths(runs_dir / str(run_id)).run_json)
    if info is None:
        return stored
    status = effective_status(info)
    return _RUN_TO_POINT.get(status, status)


def load_sweep(runs_dir: str | os.PathLike[str], sweep_id: str) -> SweepState:
    """One sweep, each point's status from its run (UserError when there is no such sweep)."""
    paths = SweepPaths.of(runs_dir, sweep_id)
    if not paths.root.is_dir():
        known = [s.name for s in sorted(sweeps_root(runs_dir).glob("*")) if s.is_dir()]
        hint = f"; sweeps: {', '.join(known[-5:])}" if known else "; there are no sweeps yet"
        raise UserError(f"no sweep '{sweep_id}' in {sweeps_root(runs_dir)}{hint}")
    return _state_of(paths)


def find_sweep(runs_dir: str | os.PathLike[str], ref: str) -> SweepState:
    """A sweep by id, unique id prefix, or unique name (as runs are found)."""
    root = sweeps_root(runs_dir)
    if (root / ref).is_dir() and RUN_ID_RE.match(ref):
        return load_sweep(runs_dir, ref)
    names = sorted(p.name for p in root.glob("*") if p.is_dir()) if root.is_dir() else []
    matches = [n for n in names if n.startswith(ref)]
    if not matches:
        matches = [n for n in names if (read_json(root / n / "sweep.json") or {}).get("name") == ref]
    if len(matches) == 1:
        return load_sweep(runs_dir, matches[0])
    if matches:
        raise UserError(
            f"'{ref}' matches {len(matches)} sweeps: {', '.join(matches[:5])}; give more of the id"
        )
    return load_sweep(runs_dir, ref)  # its "no sweep" message


def list_sweeps(runs_dir: str | os.PathLike[str]) -> list[SweepState]:
    """Every readable sweep, newest first (a damaged one is left out)."""
    root = sweeps_root(runs_dir)
    if not root.is_dir():
        return []
    sweeps = []
    for folder in sorted(root.iterdir(), reverse=True):
        if not folder.is_dir() or not RUN_ID_RE.match(folder.name):
            continue
        with contextlib.suppress(UserError):
            sweeps.append(_state_of(SweepPaths(folder)))
    return sweeps


def _state_of(paths: SweepPaths) -> SweepState:
    plan, state = read_plan(paths), read_state(paths)
    runs_dir = paths.runs_dir
    points = [
        PointState(
            index=int(p.get("index", i)),
            varied={str(k): str(v) for k, v in (p.get("varied") or {}).items()},
            run_id=p.get("run_id"),
            status=point_status(runs_dir, p),
            error=p.get("error"),
        )
        for i, p in enumerate(state["points"])
    ]
    pid = queue_pid(paths)
    launcher = str(plan.get("launcher") or "local")
    return SweepState(
        id=paths.sweep_id,
        name=str(plan.get("name") or paths.sweep_id),
        folder=paths.root,
        status=sweep_status(state, points, pid is not None or launcher == "slurm"),
        config=str(plan.get("config") or ""),
        mode=str(plan.get("mode") or "grid"),
        parallel=int(plan.get("parallel") or 1),
        launcher=launcher,
        axes={str(k): [str(v) for v in vs] for k, vs in (plan.get("axes") or {}).items()},
        overrides=[str(o) for o in plan.get("overrides") or []],
        baseline_index=int(plan.get("baseline_index") or 0),
        created=plan.get("created"),
        points=points,
        queue_pid=pid,
    )


def sweep_status(state: dict[str, Any], points: list[PointState], queue_running: bool) -> str:
    """What the sweep is doing, from its requests, its points and whether a queue runs it."""
    if all(p.status in POINT_FINISHED for p in points):
        return "stopped" if state.get("stop_requested") else "completed"
    if state.get("stop_requested"):
        return "stopping" if queue_running or any(p.status == "running" for p in points) else "stopped"
    if not queue_running:
        return "interrupted"
    return "paused" if state.get("paused") else "running"
