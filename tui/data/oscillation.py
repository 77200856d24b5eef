"""Is a loss still learning or only noisy? A one-word reading of a loss curve's last window (numpy only).

The reading looks at the last WINDOW logged points: their coefficient of variation (std / |mean|), a robust
trend (Theil–Sen: the median of the pairwise slopes, blind to the odd spike) and how far that trend moves the
loss over the window compared with the scatter around it. Losses are lower-is-better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["TREND_SYMBOLS", "Trend", "is_loss", "loss_key", "reading", "theil_sen_slope"]

Word = Literal["improving", "plateau", "noisy", "diverging"]

WINDOW = 100
"""Logged points the reading looks at: the last stretch of the curve (the whole of it when shorter). A hundred
points are enough for the trend's own scatter to be a third of the batch scatter, and few enough that a curve
that was falling long ago and is flat now reads flat."""

MIN_POINTS = 20
"""Fewer points than this give no reading: a trend over a handful of batches is a guess."""

MAX_PAIRWISE_POINTS = 200
"""Theil–Sen compares every pair: a longer window is thinned evenly to this many points (≤ 20k slopes)."""

CLEAR_CHANGE_NOISE = 1.0
"""A trend is clear when it moves the loss over the window by at least this many scatters (robust std of the
residuals). Over pure noise of 100 points the Theil–Sen change has a spread of about 0.35 scatters, so 1.0 is
about three of its standard deviations: pure noise almost never reads as a trend."""

MIN_CHANGE_FRACTION = 0.01
"""…and by at least 1 % of the loss's level: a nearly noiseless flat curve does not read as improving because
its last digits drift."""

CV_PLATEAU = 0.05
"""With no clear trend, a window whose std is within 5 % of its mean reads flat to the eye (plateau); above
it, the scatter hides whatever slow trend there is (noisy). Batch losses of a settled run sit at a few %."""

JUMP_FRACTION = 0.2
"""Diverging also when the last window's median is 20 % above the window before's…"""

JUMP_NOISE = 3.0
"""…and that by more than three scatters (a jump, not the noise of a small loss)."""

TREND_SYMBOLS: dict[str, str] = {"improving": "↘", "plateau": "→", "noisy": "~", "diverging": "↗"}
"""The arrow shown before the word (the word itself carries the meaning: NO_COLOR reads it)."""


@dataclass(frozen=True)
class Trend:
    """The reading of a loss curve's last window."""

    word: Word
    cv: float
    """std / |mean| of the window (inf at a zero mean)."""
    slope: float
    """Theil–Sen slope, loss units per step."""
    relative_slope_per_1k: float
    """The slope per 1,000 steps as a fraction of the window's level (-0.05: falling 5 % per 1k steps)."""
    level: float
    """The window's median."""
    noise: float
    """Robust std of the window around its trend line (1.4826 × MAD of the residuals)."""

    @property
    def label(self) -> str:
        """'↘ improving'."""
        return f"{TREND_SYMBOLS[self.word]} {self.word}"


def is_loss(key: str) -> bool:
    """A loss series (lower is better): the only ones that get a reading."""
    return key.startswith("loss/")


def loss_key(keys: list[str] | dict[str, object]) -> str | None:
    """The loss a run is read by: the total, else its first loss series."""
    losses = [k for k in keys if is_loss(k)]
    return "loss/total" if "loss/total" in losses else (losses[0] if losses else None)


def theil_sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    """The median of the slopes between every pair of points with distinct x (thinned to MAX_PAIRWISE_POINTS)."""
    if len(x) > MAX_PAIRWISE_POINTS:
        keep = np.linspace(0, len(x) - 1, MAX_PAIRWISE_POINTS).round().astype(int)
        x, y = x[keep], y[keep]
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    distinct = dx != 0
    if not distinct.any():
        return 0.0
    return float(np.median((y[j] - y[i])[distinct] / dx[distinct]))


def reading(steps: np.ndarray, values: np.ndarray, window: int = WINDOW) -> Trend | None:
    """The reading of the last `window` finite points of a loss (None when fewer than MIN_POINTS)."""
    steps, values = np.asarray(steps, float), np.asarray(values, float)
    finite = np.isfinite(steps) & np.isfinite(values)
    steps, values = steps[finite], values[finite]
    if len(values) < MIN_POINTS:
        return None
    x, y = steps[-window:], values[-window:]
    mean = float(y.mean())
    cv = float(y.std()) / abs(mean) if mean else float("inf")
    slope = theil_sen_slope(x, y)
    residuals = y - slope * x
    residuals -= np.median(residuals)
    noise = 1.4826 * float(np.median(np.abs(residuals)))
    level = float(np.median(y))
    change = slope * float(x[-1] - x[0])
    relative = slope * 1000 / abs(level) if level else 0.0
    clear = abs(change) >= CLEAR_CHANGE_NOISE * noise and abs(change) >= MIN_CHANGE_FRACTION * abs(level)
    word: Word
    if (clear and change > 0) or _jumped(values, window, noise):
        word = "diverging"
    elif clear:
        word = "improving"
    elif cv <= CV_PLATEAU:
        word = "plateau"
    else:
        word = "noisy"
    return Trend(word, cv, slope, relative, level, noise)


def _jumped(values: np.ndarray, window: int, noise: float) -> bool:
    """The last window's median well above the window before's (a loss that blew up in a step)."""
    before = values[-2 * window : -window]
    if len(before) < MIN_POINTS:
        return False
    now, then = float(np.median(values[-window:])), float(np.median(before))
    return now - then > max(JUMP_FRACTION * abs(then), JUMP_NOISE * noise)
