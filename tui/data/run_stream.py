"""The torch-free model of one run fed incrementally from its folder: series, evals, markers, alerts, log."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.protocol import EventReader, RunPaths
from engine.core.protocol.events import kept_after_resumes
from engine.core.protocol.listing import read_run_info, run_status
from tui.data.run_alerts import STALL_AFTER_S, LossWatch, dead_alert, stall_alert
from tui.data.run_events import Chunk, read_events
from tui.data.run_snapshot import Alert, EvalPoint, Marker, Series, Snapshot, mark_timeline

LOG_LINES = 200
"""Lines of output.log kept for the tail."""
LOG_OPEN_BYTES = 64 << 10
"""Bytes read from the end of output.log when a run is opened (older lines are never shown)."""
CONTROLS_KEPT = 50
"""Control answers kept for the UI to match against the commands it sent."""
LOSS_KEY = "loss/total"
"""The scalar watched for NaN/Inf and divergence (any "loss/…" key is watched for NaN/Inf)."""


class RunStream:
    """One run folder followed incrementally; `poll()` reads only what changed since the last call."""

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        clock: Callable[[], float] = time.time,
        stall_after: float = STALL_AFTER_S,
    ) -> None:
        self.paths = RunPaths(Path(run_dir))
        self.clock = clock
        self.stall_after = stall_after
        self.info: dict[str, Any] = {}
        self.config: dict[str, Any] = {}
        self.version = 0
        """Bumped whenever `poll` finds something new."""
        self.malformed = 0
        """Event lines skipped because they were not JSON objects."""
        self.events_read = False
        """True once events.jsonl has been read up to its end at least once."""
        self._reset_events()
        self._stamps: dict[Path, tuple[int, int]] = {}
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self._log_offset: int | None = None
        self._log_carry = b""

    def _reset_events(self) -> None:
        """Forget everything read from events.jsonl (also used when the file was truncated)."""
        self.scalars: dict[str, Series] = {}
        self.system: dict[str, Series] = {}
        self.evals: dict[str, list[EvalPoint]] = {}
        self.markers: list[Marker] = []
        self.timeline: list[Marker] = []  # evaluations, pauses and resumes: drawn on the charts, not alerts
        self.clock_stamps = Series()  # (step, t) of events that carry both: the time axis interpolates them
        self.controls: deque[dict[str, Any]] = deque(maxlen=CONTROLS_KEPT)
        self.engine_alerts: list[Alert] = []
        self.last_status_event: str | None = None
        self.phase: str | None = None
        self.phase_message: str | None = None  # "caching 1,200 / 9,120 images (train)"
        self.last_step: int | None = None
        self.last_event_t: float | None = None
        self._offset = 0
        self._reader: EventReader | None = None
        self._losses = LossWatch()
        self._pace: deque[tuple[float, float]] = deque(maxlen=64)  # (t, step) at each poll with progress

    # -- polling ---------------------------------------------------------------------------------------

    def poll(self, read_events: bool = True) -> bool:
        """Read what was appended or rewritten since the last call; True when anything changed.

        `read_events=False` skips events.jsonl: a quick first look (run.json, config, log) to show
        while a long backlog of events is decoded by the next call.
        """
        changed = self._poll_info()
        changed |= self._poll_config()
        if read_events:
            changed |= self._poll_events()
            self.events_read = True
        changed |= self._poll_log()
        if changed:
            self.version += 1
        return changed

    def _stamp_changed(self, path: Path) -> bool:
        """True when `path`'s mtime or size differs from the last look (a missing file is unchanged)."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if self._stamps.get(path) == stamp:
            return False
        self._stamps[path] = stamp
        return True

    def _poll_info(self) -> bool:
        """Re-read run.json, only when its mtime or size changed."""
        if not self._stamp_changed(self.paths.run_json):
            return False
        info = read_run_info(self.paths.root)  # a damaged one comes with its reason and reads "damaged"
        if info is None or info == self.info:
            return False
        self.info = info
        return True

    def _poll_config(self) -> bool:
        """Read config.yaml when it appears or changes."""
        if not self._stamp_changed(self.paths.config):
            return False
        import yaml  # only once per config change

        try:
            config = yaml.safe_load(self.paths.config.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return False
        self.config = config if isinstance(config, dict) else {}
        return True

    def _poll_events(self) -> bool:
        """Ingest appended events (opening: the engine's index, then EventReader for what it does not cover)."""
        try:
            size = os.stat(self.paths.events).st_size
        except OSError:
            return False
        if size < self._offset:  # truncated or replaced: start over
            self._reset_events()
        if size <= self._offset:
            return False
        chunk, self._reader = read_events(self.paths.events, self._reader)
        self._offset = self._reader.offset
        if not chunk.series and not chunk.events and not chunk.malformed:
            return False
        self._ingest(chunk)
        return True

    # -- ingesting events ------------------------------------------------------------------------------

    def _ingest(self, chunk: Chunk) -> None:
        """Merge a decoded chunk into the series, evals, markers and checks."""
        if chunk.resumed_from is not None:
            self._drop_redone(chunk.resumed_from)
        self.malformed += chunk.malformed
        for (kind, key), (x, y) in chunk.series.items():
            store = self.scalars if kind == "scalar" else self.system
            store.setdefault(key, Series()).extend(x, y)
            if len(x):
                self.last_step = max(self.last_step or 0, int(x.max()))
        for ev in chunk.events:
            self._ingest_event(ev)
        if chunk.last_t is not None:
            self.last_event_t = chunk.last_t
            if self.last_step is not None:
                self._pace.append((chunk.last_t, float(self.last_step)))
                self._stamp_clock(float(self.last_step), chunk.last_t)
        self._losses.update(chunk.series)

    def _drop_redone(self, resumed_from: float) -> None:
        """The run resumed from a checkpoint at `resumed_from`: what was read of later steps is being redone."""
        for series in (*self.scalars.values(), *self.system.values()):
            keep = kept_after_resumes(series.x, [(series.n, resumed_from)])
            if keep is not None:
                series.keep(keep)
        for split, points in self.evals.items():
            steps = np.array(
                [p.step if isinstance(p.step, (int, float)) else -np.inf for p in points], dtype=float
            )
            keep = kept_after_resumes(steps, [(len(points), resumed_from)])
            if keep is not None:
                self.evals[split] = [p for p, kept in zip(points, keep.tolist()) if kept]
        self.timeline = [m for m in self.timeline if m.step <= resumed_from]
        self.clock_stamps.keep(self.clock_stamps.x <= resumed_from)
        if self.last_step is not None:
            self.last_step = min(self.last_step, int(resumed_from))
        self._pace.clear()  # the pace across a restart counts the time the run was down

    def _ingest_event(self, ev: dict[str, Any]) -> None:
        """One non-series event."""
        kind, step = ev.get("kind"), ev.get("step")
        if isinstance(step, int):
            self.last_step = max(self.last_step or 0, step)
        at = float(step) if isinstance(step, (int, float)) else float(self.last_step or 0)
        t = ev.get("t")
        if isinstance(step, (int, float)) and isinstance(t, (int, float)) and not isinstance(t, bool):
            self._stamp_clock(float(step), float(t))
        mark_timeline(self.timeline, kind, at, ev)
        if kind == "eval" and isinstance(ev.get("metrics"), dict) and not ev.get("reeval"):
            # a re-evaluation of a stored checkpoint (labconsole eval) is not part of the training history
            metrics = {k: float(v) for k, v in ev["metrics"].items() if isinstance(v, (int, float))}
            role = "val" if ev.get("role") == "val" else "test"
            self.evals.setdefault(str(ev.get("split", "test")), []).append(EvalPoint(step, metrics, role))
        elif kind == "status":
            self.last_status_event = str(ev.get("status"))
        elif kind == "phase":
            self.phase = str(ev.get("phase")) if ev.get("phase") else None
            self.phase_message = str(ev["message"]) if ev.get("message") else None
        elif kind == "alert":
            level = "error" if ev.get("level") == "error" else "warning"
            self.engine_alerts.append(Alert(level, str(ev.get("code", "alert")), str(ev.get("message", ""))))
        if kind == "control":
            self.controls.append(ev)
        if kind in ("freeze", "control", "checkpoint"):
            marker = _marker(kind, at, ev)
            if marker is not None:
                self.markers.append(marker)

    def _stamp_clock(self, step: float, t: float) -> None:
        """Remember when `step` was reached (only forward in steps: one stamp per step is enough)."""
        stamps = self.clock_stamps
        if not stamps.n or step > stamps.x[-1]:
            stamps.extend(np.array([step]), np.array([t]))

    # -- output.log ------------------------------------------------------------------------------------

    def _poll_log(self) -> bool:
        """Append new complete lines of output.log to the tail (the first look reads only its end)."""
        path = self.paths.output_log
        try:
            size = os.stat(path).st_size
        except OSError:
            return False
        if self._log_offset is None or size < self._log_offset:
            self._log_offset = max(0, size - LOG_OPEN_BYTES)
            self._log_carry = b""
            self._log.clear()
            skip_partial = self._log_offset > 0
        else:
            skip_partial = False
        if size == self._log_offset:
            return False
        with open(path, "rb") as f:
            f.seek(self._log_offset)
            data = f.read(size - self._log_offset)
        self._log_offset = size
        if skip_partial and b"\n" in data:
            data = data[data.index(b"\n") + 1 :]
        return self._add_log(data)

    def _add_log(self, data: bytes) -> bool:
        """Split new bytes into lines (a carriage return keeps only what follows it, like a terminal)."""
        data = self._log_carry + data
        *complete, self._log_carry = data.split(b"\n")
        for raw in complete:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            self._log.append(text.rsplit("\r", 1)[-1].expandtabs(4))
        return bool(complete)

    # -- reading the model -----------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """What to show: run.json's status (a vanished engine reads "interrupted"), "paused" while paused."""
        status = run_status(self.info) if self.info else "queued"
        if status == "running" and self.last_status_event == "paused":
            return "paused"
        return status

    def alerts(self) -> list[Alert]:
        """Current alerts, most severe first: dead process, NaN/Inf, divergence, stall, the engine's own."""
        status = self.status
        found = [dead_alert(status, self.info, self._log)] if status in ("failed", "interrupted") else []
        found += self._losses.alerts()
        quiet = self._quiet_for()
        if status == "running" and quiet is not None:
            found += stall_alert(quiet, self.phase, self.stall_after)
        seen = {a.code for a in found}
        for alert in reversed(self.engine_alerts[-5:]):
            if alert.code not in seen:
                found.append(alert)
                seen.add(alert.code)
        return found

    def _quiet_for(self) -> float | None:
        """Seconds since the last sign of life (last event or events.jsonl write)."""
        try:
            mtime: float | None = os.stat(self.paths.events).st_mtime
        except OSError:
            mtime = None
        latest = max((t for t in (self.last_event_t, mtime) if t is not None), default=None)
        return None if latest is None else self.clock() - latest

    def steps_per_s(self) -> float | None:
        """Recent training pace from (time, step) pairs, else the average since the start."""
        if len(self._pace) >= 2:
            (t0, s0), (t1, s1) = self._pace[0], self._pace[-1]
            if t1 - t0 > 1.0 and s1 > s0:
                return (s1 - s0) / (t1 - t0)
        started, step = self.info.get("started"), self.current_step()
        if isinstance(started, (int, float)) and step and self.last_event_t and self.last_event_t > started:
            return step / (self.last_event_t - started)
        return None

    def current_step(self) -> int | None:
        """The latest step seen in events, else run.json's progress."""
        progress = self.info.get("progress") or {}
        steps = [s for s in (self.last_step, progress.get("step")) if isinstance(s, int)]
        return max(steps) if steps else None

    def snapshot(self) -> Snapshot:
        """Freeze the current state for the UI thread."""
        progress = self.info.get("progress") or {}
        max_steps = progress.get("max_steps") or _dig(self.config, "train", "max_steps")
        return Snapshot(
            run_id=self.paths.run_id,
            info=dict(self.info),
            config=self.config,
            status=self.status,
            phase=self.phase,
            phase_message=self.phase_message,
            scalars={k: (s.x, s.y) for k, s in self.scalars.items()},
            system={k: (s.x, s.y) for k, s in self.system.items()},
            evals={k: tuple(v) for k, v in self.evals.items()},
            markers=tuple(self.markers),
            timeline=tuple(self.timeline),
            clock_stamps=(self.clock_stamps.x, self.clock_stamps.y),
            controls=tuple(self.controls),
            alerts=tuple(self.alerts()),
            log=tuple(self._log),
            step=self.current_step(),
            max_steps=max_steps if isinstance(max_steps, int) else None,
            epoch=_epoch(progress.get("epoch")),
            steps_per_s=self.steps_per_s(),
            events_read=self.events_read,
            last_event_t=self.last_event_t,
            now=self.clock(),
            version=self.version,
        )


def _epoch(value: Any) -> float | None:
    """run.json progress.epoch: the engine writes a float (3.47); anything else (a bool, text) is unknown."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        return None
    return float(value)


def _marker(kind: str, step: float, ev: dict[str, Any]) -> Marker | None:
    """A curve marker for a freeze, an applied control change or a checkpoint (None for the rest)."""
    if kind == "freeze":
        return Marker(step, kind, f"{ev.get('phase') or 'freeze'}: {_groups(ev.get('groups'))}".strip(": "))
    if kind == "checkpoint":
        return Marker(step, kind, "best checkpoint" if ev.get("best") else "checkpoint")
    if ev.get("status") != "applied":
        return None
    action = str(ev.get("action"))
    values = ev.get("values") or {}
    if action == "set" and isinstance(values, dict):
        verb = "scheduled set " if ev.get("scheduled") else "set "  # schedule.changes, not a hand's steering
        return Marker(step, kind, verb + " ".join(f"{k}={_short(v)}" for k, v in values.items()))
    return Marker(step, kind, action)


def _groups(groups: Any) -> str:
    """'frozen backbone' from {"backbone": False, "head": True}; a list names the frozen groups."""
    if isinstance(groups, dict):
        frozen = [str(k) for k, trainable in groups.items() if not trainable]
        return "frozen " + ", ".join(frozen) if frozen else "all trainable"
    if isinstance(groups, list):
        return "frozen " + ", ".join(map(str, groups)) if groups else "all trainable"
    return str(groups or "")


def _short(value: Any) -> str:
    """A compact rendering of a set value."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _dig(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]… or None."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj
