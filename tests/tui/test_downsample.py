"""Min/max downsampling and EMA smoothing against brute-force references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tui.data.downsample import EmaState, ema, ema_continue, minmax


def minmax_reference(
    x: np.ndarray, y: np.ndarray, width: int, lo: float, hi: float
) -> list[tuple[float, float]]:
    """Per non-empty column: (min, max) of the finite points whose x falls in it, computed point by point."""
    columns: dict[int, list[float]] = {}
    for xi, yi in zip(x.tolist(), y.tolist()):
        if not math.isfinite(yi) or not lo <= xi <= hi:
            continue
        col = min(width - 1, int((xi - lo) / (hi - lo) * width))
        # a point exactly on an edge belongs to the column that starts there
        columns.setdefault(col, []).append(yi)
    return [(min(v), max(v)) for _, v in sorted(columns.items())]


def pairs(ys: np.ndarray) -> list[tuple[float, float]]:
    """(min, max) of each output column (two points per column)."""
    return [(min(a, b), max(a, b)) for a, b in ys.reshape(-1, 2).tolist()]


@pytest.mark.parametrize("seed", range(5))
def test_minmax_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, width = int(rng.integers(300, 5000)), int(rng.integers(5, 120))
    x = np.sort(rng.integers(0, 10_000, n)).astype(float)  # repeated steps too
    y = rng.normal(size=n).cumsum()
    y[rng.integers(0, n, 3)] = np.nan
    xs, ys = minmax(x, y, width)
    finite = np.isfinite(y)
    lo, hi = float(x[finite][0]), float(x[finite][-1])
    assert pairs(ys) == minmax_reference(x, y, width, lo, hi)
    assert len(xs) == len(ys) <= 2 * width
    assert np.all(np.diff(xs) >= 0)


def test_minmax_keeps_a_single_spike_among_a_million_points() -> None:
    x = np.arange(1_000_000, dtype=float)
    y = np.ones_like(x)
    y[654_321] = 50.0
    _, ys = minmax(x, y, 100)
    assert len(ys) == 200
    assert ys.max() == 50.0 and ys.min() == 1.0


def test_minmax_orders_each_column_from_its_first_value_to_its_last() -> None:
    x = np.arange(40, dtype=float)
    y = -x  # falling everywhere: each column goes max → min
    _, ys = minmax(x, y, 4)
    assert all(a >= b for a, b in ys.reshape(-1, 2).tolist())


def test_minmax_returns_small_series_unchanged_but_drops_non_finite() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, np.inf, 3.0, np.nan])
    xs, ys = minmax(x, y, 10)
    assert xs.tolist() == [0.0, 2.0] and ys.tolist() == [1.0, 3.0]


def test_minmax_sorts_decreasing_steps_and_honours_the_range() -> None:
    x = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    y = np.array([50.0, 10.0, 30.0, 20.0, 40.0])
    xs, ys = minmax(x, y, 10, x_range=(2.0, 4.0))
    assert xs.tolist() == [2.0, 3.0, 4.0] and ys.tolist() == [20.0, 30.0, 40.0]


def test_minmax_with_a_range_bins_over_the_range() -> None:
    x = np.arange(1000, dtype=float)
    xs, ys = minmax(x, x, 10, x_range=(500.0, 999.0))
    assert len(xs) == 20 and xs.min() > 500 and ys.min() == 500.0 and ys.max() == 999.0


def tensorboard_ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard's resampling-free smoothing, point by point (the reference)."""
    out, last, count = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        count += 1
        out.append(last / (1 - weight**count) if weight > 0 else v)
    return out


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99, 0.999])
def test_ema_matches_tensorboard(weight: float) -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(2.0, 1.0, 5000)
    y[[10, 2000, 4999]] = [np.nan, np.inf, np.nan]
    got = ema(y, weight)
    want = np.array(tensorboard_ema(y.tolist(), weight))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.isinf(got[2000])


def test_ema_continued_in_pieces_equals_ema_at_once() -> None:
    y = np.random.default_rng(2).normal(size=3000)
    whole = ema(y, 0.95)
    state, pieces = EmaState(), []
    for a, b in ((0, 1), (1, 700), (700, 701), (701, 3000)):
        part, state = ema_continue(y[a:b], 0.95, state)
        pieces.append(part)
    np.testing.assert_allclose(np.concatenate(pieces), whole, rtol=1e-12)
    assert state.count == 3000


def test_ema_of_constant_is_constant_from_the_first_point() -> None:
    np.testing.assert_allclose(ema(np.full(100, 3.5), 0.99), 3.5)
