"""Curves in numpy: min/max-per-column downsampling (spikes stay visible) and debiased EMA smoothing."""

from __future__ import annotations

import math

import numpy as np

_SAFE_GROWTH = 1e150  # largest 1/weight**n the segmented EMA lets its running sums reach


def minmax(
    x: np.ndarray, y: np.ndarray, width: int, x_range: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """At most 2·width points of (x, y) whose line looks like the full one drawn `width` columns wide.

    Points are binned into `width` equal columns of x over `x_range` (default: the data's span); each
    column keeps its minimum and maximum, at the column's centre, ordered so that the line goes from
    the column's first value towards its last. Non-finite y values are dropped; x must not decrease
    (it is sorted stably when it does). Fewer than 2·width points come back as they are.
    """
    x, y = _finite_sorted(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    if x_range is not None:
        inside = (x >= x_range[0]) & (x <= x_range[1])
        x, y = x[inside], y[inside]
    if len(x) <= 2 * width or width < 1:
        return x, y
    lo, hi = x_range if x_range is not None else (float(x[0]), float(x[-1]))
    if hi <= lo:
        return _one_column(x, y)
    edges = lo + (hi - lo) * np.arange(width + 1) / width
    starts = np.searchsorted(x, edges[:-1], side="left")
    ends = np.append(starts[1:], len(x))
    used = ends > starts
    starts, ends, centres = starts[used], ends[used], ((edges[:-1] + edges[1:]) / 2)[used]
    low, high = np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)
    falling = y[starts] > y[ends - 1]
    first = np.where(falling, high, low)
    second = np.where(falling, low, high)
    return np.repeat(centres, 2), np.column_stack((first, second)).ravel()


def _finite_sorted(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) without non-finite points, sorted by x (stable) when x ever decreases."""
    keep = np.isfinite(y) & np.isfinite(x)
    if not keep.all():
        x, y = x[keep], y[keep]
    if len(x) > 1 and (np.diff(x) < 0).any():
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    return x, y


def _one_column(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All points share one x: keep the minimum and the maximum."""
    return np.array([x[0], x[0]]), np.array([y.min(), y.max()])


def ema(y: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: exponential moving average, debiased, non-finite values passed through.

    `weight` in [0, 1): 0 returns y unchanged, 0.99 is very smooth.
    """
    smoothed, _ = ema_continue(np.asarray(y, dtype=np.float64), weight, EmaState())
    return smoothed


class EmaState:
    """Where an EMA stopped, so that it can continue over appended points."""

    __slots__ = ("count", "last")

    def __init__(self, last: float = 0.0, count: int = 0) -> None:
        self.last = last
        """The biased running average after the last finite point."""
        self.count = count
        """How many finite points went into it."""


def ema_continue(y: np.ndarray, weight: float, state: EmaState) -> tuple[np.ndarray, EmaState]:
    """`ema` of new points `y` continuing from `state`; returns the smoothed points and the new state."""
    out = np.array(y, dtype=np.float64, copy=True)
    finite = np.isfinite(out)
    vals = out[finite]
    if len(vals) == 0:
        return out, state
    if weight <= 0:
        return out, EmaState(float(vals[-1]), state.count + len(vals))
    biased = _ema_segments(vals, weight, state.last)
    n = state.count + np.arange(1, len(vals) + 1)
    out[finite] = biased / -np.expm1(n * math.log(weight))  # debias: divide by 1 - weight**n
    return out, EmaState(float(biased[-1]), state.count + len(vals))


def _ema_segments(v: np.ndarray, w: float, last: float) -> np.ndarray:
    """Biased EMA b_t = w·b_{t-1} + (1-w)·v_t, vectorised per segment as w**t·(b_0 + Σ (1-w)·v_i / w**i).

    Segments are short enough that 1/w**i stays far from overflow.
    """
    seg = max(1, int(math.log(_SAFE_GROWTH) / -math.log(w)))
    out = np.empty_like(v)
    for a in range(0, len(v), seg):
        part = v[a : a + seg]
        powers = w ** np.arange(1, len(part) + 1)
        out[a : a + seg] = powers * (last + np.cumsum((1 - w) * part / powers))
        last = float(out[a + len(part) - 1])
    return out
