"""Alerts derived from a run as it is read: NaN/Inf and divergence of the loss, a stalled or dead engine."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tui.data.downsample import EmaState, ema_continue
from tui.data.run_snapshot import Alert

STALL_AFTER_S = 120.0
"""A running run with no new event for this long raises a "stalled" alert."""
DIVERGE_FACTOR = 3.0
"""Smoothed total loss above this multiple of its running minimum raises a "diverge" alert."""
DIVERGE_WEIGHT = 0.98
"""EMA weight of the loss watched for divergence (independent of the display smoothing)."""
DIVERGE_WARMUP = 50
"""Points of total loss before its running minimum counts."""
DEAD_LOG_LINES = 5
"""Last lines of output.log shown with a dead-process alert."""
LOSS_KEY = "loss/total"
"""The scalar watched for divergence (every "loss/…" key is watched for NaN/Inf)."""


class LossWatch:
    """Incremental NaN/Inf and divergence checks: each chunk of new points is looked at once."""

    def __init__(self) -> None:
        self.ema = EmaState()
        """Where the watched EMA of the total loss stands."""
        self.minimum = math.inf
        """Lowest smoothed total loss after the warm-up."""
        self.current: float | None = None
        """Latest smoothed total loss."""
        self.seen = 0
        """Finite total-loss points seen."""
        self.nonfinite: tuple[str, float] | None = None
        """(key, step) of the first NaN/Inf loss."""

    def update(self, series: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]) -> None:
        """Look at new (kind, key) → (steps, values) points."""
        for (kind, key), (x, y) in series.items():
            if kind != "scalar" or not key.startswith("loss/") or self.nonfinite is not None:
                continue
            bad = ~np.isfinite(y)
            if bad.any():
                self.nonfinite = (key, float(x[np.argmax(bad)]))
        total = series.get(("scalar", LOSS_KEY))
        if total is not None and len(total[1]):
            self._follow_total(total[1])

    def _follow_total(self, values: np.ndarray) -> None:
        """Extend the smoothed total loss and its running minimum (after the warm-up)."""
        smoothed, self.ema = ema_continue(values, DIVERGE_WEIGHT, self.ema)
        finite = smoothed[np.isfinite(smoothed)]
        skip = max(0, DIVERGE_WARMUP - self.seen)
        self.seen += len(finite)
        if len(finite) > skip:
            self.minimum = min(self.minimum, float(finite[skip:].min()))
        if len(finite):
            self.current = float(finite[-1])

    def alerts(self) -> list[Alert]:
        """NaN/Inf (an error), then divergence (a warning)."""
        found = []
        if self.nonfinite is not None:
            key, step = self.nonfinite
            found.append(Alert("error", "nan", f"{key} became NaN/Inf at step {step:,.0f}"))
        if self.current is not None and 0 < self.minimum < self.current / DIVERGE_FACTOR:
            ratio = self.current / self.minimum
            message = (
                f"loss diverging: smoothed {self.current:.4g} is {ratio:.1f}× its minimum {self.minimum:.4g}"
            )
            found.append(Alert("warning", "diverge", message))
        return found


def dead_alert(status: str, info: dict[str, Any], log: Iterable[str]) -> Alert:
    """The engine is gone without completing: why, and the last log lines (OOM recognised)."""
    error = info.get("error")
    tail = tuple(line for line in log if line.strip())[-DEAD_LOG_LINES:]
    oom = any("out of memory" in line.lower() for line in tail) or "out of memory" in str(error).lower()
    if status == "interrupted":
        message = "engine process is gone (interrupted)"
    else:
        message = f"run failed: {error}" if error else "run failed"
    return Alert("error", "oom" if oom else "dead", message, tail)


def stall_alert(quiet: float, phase: str | None, stall_after: float) -> list[Alert]:
    """A warning when a running run has been quiet too long (longer grace outside the training phase)."""
    patience = stall_after * (1 if phase in (None, "training") else 5)  # loading or evaluating is quiet
    if quiet <= patience:
        return []
    return [Alert("warning", "stall", f"no event for {_ago(quiet)}: stalled?")]


def _ago(seconds: float) -> str:
    """A rough duration: 45s, 3m, 2h."""
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"
