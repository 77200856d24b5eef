"""What the monitor shows of a run: growable series and the immutable snapshot handed to the UI thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

TRAIN_THROUGHPUT_KEY = "img_per_s"
"""The system gauge the engine logs once per training window: that window's images / its training seconds
(evaluations, checkpoints and pauses left out)."""
THROUGHPUT_WINDOWS = 10
"""Training windows (log points) the monitor's throughput covers, in the header and the system panel alike."""


def train_throughput(
    steps: np.ndarray, rates: np.ndarray, windows: int | None = THROUGHPUT_WINDOWS
) -> float | None:
    """Images per training second over the last `windows` training windows (all of them when None).

    Each reading covers the steps since the previous one, so a window's seconds are its steps / its rate (in
    units of the global batch, which cancel): the figure is total images / total seconds, the same definition
    compare applies to the whole run, and a short window cut by an evaluation weighs only for its steps.
    """
    widths = np.diff(np.asarray(steps, dtype=float), prepend=0.0)
    rates = np.asarray(rates, dtype=float)
    usable = (widths > 0) & np.isfinite(rates) & (rates > 0)
    widths, rates = widths[usable], rates[usable]
    if windows is not None:
        widths, rates = widths[-windows:], rates[-windows:]
    if not len(widths):
        return None
    return float(widths.sum() / (widths / rates).sum())


class Series:
    """A growable (x, y) float64 series; readers take `x`/`y` views, which appends never modify."""

    def __init__(self, capacity: int = 1024) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.n = 0
        """Points stored."""

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append points, doubling the storage when needed (amortised O(1) per point)."""
        need = self.n + len(x)
        if need > len(self._x):
            cap = max(need, 2 * len(self._x))
            self._x = np.concatenate((self._x[: self.n], np.empty(cap - self.n)))
            self._y = np.concatenate((self._y[: self.n], np.empty(cap - self.n)))
        self._x[self.n : need] = x
        self._y[self.n : need] = y
        self.n = need

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the points where `mask` is true, in new storage (snapshots taken before keep theirs)."""
        x, y = self.x[mask], self.y[mask]
        self._x, self._y = np.empty(max(len(x), 1024)), np.empty(max(len(x), 1024))
        self.n = 0
        self.extend(x, y)

    @property
    def x(self) -> np.ndarray:
        """Steps (a view)."""
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        """Values (a view)."""
        return self._y[: self.n]

    def last(self) -> float | None:
        """The latest value, or None when empty."""
        return float(self._y[self.n - 1]) if self.n else None


@dataclass(frozen=True)
class EvalPoint:
    """One evaluation of one test set."""

    step: int | None
    metrics: dict[str, float]
    role: str = "test"
    """"val" (it chooses the best checkpoint) or "test" (reported only); runs before roles are all "test"."""


@dataclass(frozen=True)
class Marker:
    """Something that happened at a step, drawn on the curves (freeze phase, control change, checkpoint,
    evaluation, pause, resume)."""

    step: float
    kind: str
    label: str


@dataclass(frozen=True)
class Alert:
    """A condition to see at once: NaN/Inf, divergence, stall, dead process, or one the engine raised."""

    level: str
    """"warning" or "error"."""
    code: str
    """nan | diverge | stall | dead | oom | an engine alert code."""
    message: str
    detail: tuple[str, ...] = ()
    """Extra lines (the last log lines of a dead run)."""


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of a run for the UI thread (arrays are views that later appends leave alone)."""

    run_id: str
    info: dict[str, Any]
    config: dict[str, Any]
    status: str
    phase: str | None
    scalars: dict[str, tuple[np.ndarray, np.ndarray]]
    system: dict[str, tuple[np.ndarray, np.ndarray]]
    evals: dict[str, tuple[EvalPoint, ...]]
    markers: tuple[Marker, ...]
    controls: tuple[dict[str, Any], ...]
    """The latest answers of the engine to control commands (applied or rejected)."""
    alerts: tuple[Alert, ...]
    log: tuple[str, ...]
    step: int | None
    max_steps: int | None
    epoch: float | None
    """Passes over the training set, fractional (run.json progress.epoch)."""
    steps_per_s: float | None
    events_read: bool
    """False in the quick first snapshot taken before the events backlog is decoded."""
    last_event_t: float | None
    now: float
    version: int
    phase_message: str | None = None
    """What the engine says it is doing before training ("caching 1,200 / 9,120 images (train)")."""
    timeline: tuple[Marker, ...] = ()
    """Evaluations, pauses and resumes, in order (drawn on the charts with `markers`)."""
    clock_stamps: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
    """(steps, unix times) the events give, for an x axis in time."""

    @property
    def elapsed(self) -> float | None:
        """Seconds since the run started (until it ended)."""
        started = self.info.get("started") or self.info.get("created")
        if not isinstance(started, (int, float)):
            return None
        ended = self.info.get("ended")
        end = (
            ended
            if isinstance(ended, (int, float)) and self.status not in ("running", "queued")
            else self.now
        )
        return max(0.0, end - started)

    @property
    def eta(self) -> float | None:
        """Seconds to max_steps at the recent pace (None when not running or unknown)."""
        if self.status != "running" or not self.steps_per_s or not self.max_steps or self.step is None:
            return None
        return max(0.0, (self.max_steps - self.step) / self.steps_per_s)

    def system_last(self, key: str) -> float | None:
        """Latest value of a system gauge."""
        series = self.system.get(key)
        return float(series[1][-1]) if series is not None and len(series[1]) else None

    def train_img_per_s(self) -> float | None:
        """Training throughput over the last THROUGHPUT_WINDOWS logs (see `train_throughput`)."""
        series = self.system.get(TRAIN_THROUGHPUT_KEY)
        return None if series is None else train_throughput(*series)


def mark_timeline(markers: list[Marker], kind: Any, step: float, event: dict[str, Any]) -> None:
    """Add the timeline marker an event makes: evaluations (one marker per step, naming its test sets), pauses
    and resumes, as the monitor and compare draw them."""
    if kind == "eval" and event.get("reeval"):
        return  # a later re-evaluation of a checkpoint happened after training, not at this point of it
    if kind == "eval":
        last = markers[-1] if markers else None
        split = str(event.get("split", "test"))
        if last is not None and last.kind == "eval" and last.step == step:
            markers[-1] = Marker(step, "eval", f"{last.label}, {split}")
        else:
            markers.append(Marker(step, "eval", f"eval {split}"))
    elif kind == "status" and event.get("status") == "paused":
        markers.append(Marker(step, "pause", "paused"))
    elif kind == "status" and event.get("status") == "running" and any(m.kind == "pause" for m in markers):
        markers.append(Marker(step, "resume", "resumed"))
