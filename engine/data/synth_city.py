"""A procedural street side (buildings, signs, trees, lamps, far skyline) sampled from a numpy RNG."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Facade materials: indices into a building's palette (Street.palette_day / palette_night).
WALL, TRIM, GLASS, SHOP, SIGN, LETTER, AWNING, DOOR, LIT, ROOF = range(10)

WALL_PALETTE = np.array(
    [
        [0.86, 0.80, 0.68],
        [0.72, 0.38, 0.30],
        [0.62, 0.62, 0.60],
        [0.93, 0.92, 0.88],
        [0.90, 0.80, 0.52],
        [0.52, 0.58, 0.66],
        [0.80, 0.52, 0.36],
        [0.55, 0.63, 0.50],
        [0.40, 0.36, 0.34],
        [0.83, 0.68, 0.66],
        [0.68, 0.74, 0.80],
        [0.60, 0.46, 0.36],
    ],
    dtype=np.float32,
)
SIGN_PALETTE = np.array(
    [
        [0.80, 0.10, 0.10],
        [0.10, 0.25, 0.70],
        [0.10, 0.55, 0.25],
        [0.95, 0.80, 0.10],
        [0.08, 0.08, 0.08],
        [0.95, 0.95, 0.95],
        [0.60, 0.15, 0.55],
        [0.95, 0.45, 0.05],
    ],
    dtype=np.float32,
)
WARM_LIGHT = np.array([1.0, 0.78, 0.42], np.float32)
MARGIN_M = 60.0  # scenery beyond both street ends, so views near the ends are filled


@dataclass
class Street:
    """One side of a straight street, seen from the road; positions `s` are metres along it."""

    length: float
    b_x0: np.ndarray  # (B,) left edge of each building slot, sorted; alleys have height 0
    b: dict[str, np.ndarray]  # building parameters, each (B,): see _BUILDING_KEYS
    palette_day: np.ndarray  # (B, 10, 3) colour of each material, by day
    palette_night: np.ndarray  # (B, 10, 3) the same at night (LIT = a lit window)
    sky_x0: np.ndarray  # (S,) far-skyline tower left edges
    sky_h: np.ndarray  # (S,) their heights (m); 0 = a gap
    sky_rgb: np.ndarray  # (S, 3)
    trees: np.ndarray  # (T, 4): position, crown radius, crown height, green shade
    lamps: np.ndarray  # (L,) lamp-post positions
    ground_rgb: np.ndarray  # (2, 3): sidewalk, road


_BUILDING_KEYS = (
    "width",
    "height",
    "floor_h",
    "ground_h",
    "win_period",
    "win_w",
    "win_h",
    "win_off",
    "sign_x0",
    "sign_x1",
    "bands",
    "awning",
    "lit_frac",
    "door_x",
    "shop_lit",
    "style",
    "balcony",
    "gable",
    "mural",
    "mural_x",
    "mural_y",
    "mural_r",
)
PLAIN, STRIPES, PILASTERS, RIBBON = range(4)  # facade styles


def make_street(rng: np.random.Generator, length: float) -> Street:
    """Sample one street side: buildings (with alleys), a far skyline, trees and lamp posts."""
    b_x0, b = _buildings(rng, length)
    palette_day = _palette(rng, len(b_x0))
    sky_x0, sky_h, sky_rgb = _skyline(rng, length)
    ground = np.array([[0.62, 0.60, 0.57], [0.30, 0.30, 0.32]], np.float32) * rng.uniform(0.85, 1.1)
    return Street(
        length,
        b_x0,
        b,
        palette_day,
        _night_palette(palette_day, b),
        sky_x0,
        sky_h,
        sky_rgb,
        _trees(rng, length),
        _lamps(rng, length),
        ground.astype(np.float32),
    )


def _buildings(rng: np.random.Generator, length: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Building slots covering the street plus margins; about one slot in six is an alley."""
    rows, x0s, x = [], [], -MARGIN_M
    while x < length + MARGIN_M:
        x0s.append(x)
        rows.append(_one_building(rng))
        x += rows[-1][0]
    table = np.array(rows, np.float32).T  # (keys, B)
    return np.array(x0s, np.float32), dict(zip(_BUILDING_KEYS, table))


def _one_building(rng: np.random.Generator) -> list[float]:
    """Parameters of one building in _BUILDING_KEYS order."""
    alley = rng.random() < 0.16
    width = rng.uniform(2.5, 7.0) if alley else rng.uniform(7.0, 22.0)
    floor_h, ground_h = rng.uniform(2.9, 3.8), rng.uniform(3.6, 4.6)
    height = 0.0 if alley else int(rng.integers(1, 8)) * floor_h + ground_h + 0.8
    period = rng.uniform(1.8, 3.6)
    style = int(rng.choice(4, p=[0.35, 0.2, 0.25, 0.2]))
    win_w = period * (0.9 if style == RIBBON else rng.uniform(0.35, 0.7))
    sign_x0 = rng.uniform(0.05, 0.45) * width
    sign_x1 = sign_x0 + rng.uniform(0.3, 0.9) * (width - sign_x0) if rng.random() < 0.7 else sign_x0
    mural = float(rng.random() < 0.15 and width > 8 and height > ground_h + 2 * floor_h)
    return [
        width,
        height,
        floor_h,
        ground_h,
        period,
        win_w,
        floor_h * rng.uniform(0.35, 0.6),
        rng.uniform(0.0, period),
        sign_x0,
        sign_x1,
        float(rng.random() < 0.4),
        float(rng.random() < 0.3),
        rng.uniform(0.15, 0.6),
        rng.uniform(0.2, 0.8) * width,
        float(rng.random() < 0.5),
        style,
        float(rng.random() < 0.3),
        rng.uniform(0.3, 0.7) if rng.random() < 0.25 else 0.0,
        mural,
        rng.uniform(0.25, 0.75) * width,
        ground_h + rng.uniform(1.5, 2.0) * floor_h,
        rng.uniform(1.3, 2.6),
    ]


def _palette(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-building day colours of the ten materials (B, 10, 3)."""
    wall = WALL_PALETTE[rng.integers(0, len(WALL_PALETTE), n)] * rng.uniform(0.8, 1.1, (n, 1))
    wall = wall + rng.normal(0, 0.04, (n, 3))
    trim = np.where(rng.random((n, 1)) < 0.5, 0.95, 0.25) * rng.uniform(0.8, 1.05, (n, 3))
    glass = np.array([0.16, 0.22, 0.30]) * rng.uniform(0.6, 1.6, (n, 1)) + rng.normal(0, 0.03, (n, 3))
    sign = SIGN_PALETTE[rng.integers(0, len(SIGN_PALETTE), n)]
    letter = np.where(sign.mean(1, keepdims=True) > 0.5, 0.05, 0.97).repeat(3, 1)
    white = np.full((n, 3), 0.92)
    lit = np.broadcast_to(WARM_LIGHT, (n, 3))
    roof = np.array([[0.45, 0.2, 0.15], [0.3, 0.3, 0.32], [0.5, 0.35, 0.25]])[rng.integers(0, 3, n)]
    mats = [wall, trim, glass, glass * 1.3, sign, letter, white, trim * 0.5, lit, roof]
    return np.clip(np.stack(mats, 1), 0, 1).astype(np.float32)


def _night_palette(day: np.ndarray, b: dict[str, np.ndarray]) -> np.ndarray:
    """Night colours: everything dark except glowing signs and lit windows (brightness per building)."""
    night = day * 0.07
    night[:, [SIGN, LETTER]] = day[:, [SIGN, LETTER]] * 0.85
    night[:, LIT] = WARM_LIGHT * (0.55 + 0.4 * b["lit_frac"][:, None])
    return night.astype(np.float32)


def _skyline(rng: np.random.Generator, length: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Far towers behind the street, wide enough to fill the view from any position (parallax ~8x)."""
    span = (length + 2 * MARGIN_M) * 8.0
    widths = rng.uniform(8.0, 40.0, int(span / 12) + 4)
    x0 = np.cumsum(widths) - widths[0] - span / 2 + length / 2
    heights = np.where(rng.random(len(widths)) < 0.3, 0.0, rng.uniform(20.0, 95.0, len(widths)))
    tint = rng.uniform(0.45, 0.75, (len(widths), 1)) * np.array([0.88, 0.92, 1.0])
    return x0.astype(np.float32), heights.astype(np.float32), tint.astype(np.float32)


def _trees(rng: np.random.Generator, length: float) -> np.ndarray:
    """Irregular rows of trees, absent along some stretches (T, 4)."""
    xs = np.cumsum(rng.uniform(6.0, 30.0, int(length / 6) + 12)) - MARGIN_M
    xs = xs[rng.random(len(xs)) < 0.6]
    n = len(xs)
    return np.stack([xs, rng.uniform(1.0, 2.0, n), rng.uniform(3.2, 5.0, n), rng.uniform(0.6, 1.1, n)], 1)


def _lamps(rng: np.random.Generator, length: float) -> np.ndarray:
    """Lamp posts at a regular spacing with a random phase."""
    spacing = rng.uniform(18.0, 32.0)
    return np.arange(-MARGIN_M + rng.uniform(0, spacing), length + MARGIN_M, spacing)
