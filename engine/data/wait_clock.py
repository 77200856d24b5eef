"""How long the training loop waited for its batches: timed where batches are pulled, read once per log window.

A window starts at its first pull, so the evaluations and checkpoints the trainer runs between two log points
are not counted as training time. A pause steered inside a window is (the clock cannot tell it apart), which
only lowers that one window's percentage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class WaitClock:
    """Seconds spent waiting for batches, and the batches pulled, since the last `read_and_reset`."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        """Start a new window at the next pull."""
        self._window_start: float | None = None
        self._waited = 0.0
        self._batches = 0

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Time one pull of a batch (a failed pull waited too)."""
        start = self._clock()
        if self._window_start is None:
            self._window_start = start
        try:
            yield
        finally:
            self._waited += self._clock() - start
            self._batches += 1

    def read_and_reset(self) -> dict[str, float]:
        """`data_wait_pct` (share of the window spent waiting) and `data_wait_ms` (mean wait per batch);
        nothing when no batch was pulled since the last read (an evaluation-only run)."""
        if self._window_start is None or not self._batches:
            return {}
        span = self._clock() - self._window_start
        share = min(self._waited / span, 1.0) if span > 0 else 0.0
        readings = {
            "data_wait_pct": round(100.0 * share, 1),
            "data_wait_ms": round(1000.0 * self._waited / self._batches, 2),
        }
        self.reset()
        return readings


TRAINING_WAITS = WaitClock()
"""The training stream of this process (one per DDP rank, each rank being a process)."""
