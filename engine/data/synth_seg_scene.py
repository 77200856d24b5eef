"""A procedural street scene seen down the road (numpy): RGB image plus a per-pixel class mask.

One-point perspective: the road, its sidewalks and both rows of facades converge to a vanishing
point on the horizon; cars, people, poles and trees stand on the ground and are scaled by their
distance (pixels per metre at their foot row), drawn far to near. Lighting, haze and sensor noise
vary per image; `fog=True` gives the shifted test condition (distance-dependent fog, dim light).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Class names in mask-index order (Cityscapes order for the classes they share).
CLASSES = ("road", "sidewalk", "building", "vegetation", "sky", "pole", "person", "car")
ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, POLE, PERSON, CAR = range(len(CLASSES))
IGNORE = 255  # the ego vehicle's bonnet, as Cityscapes leaves it unlabelled

ROAD_WIDTH_M = 8.0  # two lanes: sets the metres-to-pixels scale of every row


@dataclass
class Canvas:
    """The image being painted, its mask, and the distance of what each pixel shows (for fog)."""

    rgb: np.ndarray  # (H, W, 3) float32 in [0, 1]
    mask: np.ndarray  # (H, W) uint8 class index
    depth: np.ndarray  # (H, W) float32, 1 = the bottom row's distance; large = far
    yy: np.ndarray  # (H, 1) pixel-centre rows
    xx: np.ndarray  # (1, W) pixel-centre columns

    def paint(self, where: np.ndarray, colour: np.ndarray, label: int, depth: float | np.ndarray) -> None:
        """Overwrite the pixels in `where` (H×W bool) with `colour` (3 or H×W×3) and `label`."""
        colour = np.broadcast_to(colour, self.rgb.shape)
        self.rgb[where] = colour[where]
        self.mask[where] = label
        self.depth[where] = np.broadcast_to(depth, where.shape)[where]


@dataclass
class Street:
    """Ground geometry: horizon row, vanishing column, and road / sidewalk edge columns at the bottom row."""

    horizon: float
    vanish_x: float
    road: tuple[float, float]  # (left, right) road edges at the bottom row
    outer: tuple[float, float]  # (left, right) outer sidewalk edges at the bottom row
    height: int

    def t(self, y: np.ndarray | float) -> np.ndarray | float:
        """0 at the horizon, 1 at the bottom row (proportional to inverse distance)."""
        return (np.asarray(y) - self.horizon) / (self.height - self.horizon)

    def edge(self, bottom_x: float, y: np.ndarray | float) -> np.ndarray | float:
        """Column of a ground line that meets the bottom row at `bottom_x`, at row `y`."""
        return self.vanish_x + (bottom_x - self.vanish_x) * self.t(y)

    def px_per_m(self, y: float) -> float:
        """Pixels per metre of an object standing at row `y`."""
        return (self.edge(self.road[1], y) - self.edge(self.road[0], y)) / ROAD_WIDTH_M


def render_scene(
    rng: np.random.Generator, size: tuple[int, int], fog: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """One scene: (H, W, 3) uint8 image and (H, W) uint8 mask of class indices (255 = ignore)."""
    h, w = size
    canvas = Canvas(
        np.zeros((h, w, 3), np.float32),
        np.full((h, w), SKY, np.uint8),
        np.full((h, w), 1e3, np.float32),
        np.arange(h, dtype=np.float32)[:, None] + 0.5,
        np.arange(w, dtype=np.float32)[None, :] + 0.5,
    )
    street = _street(rng, h, w)
    _sky(canvas, street, rng)
    _ground(canvas, street, rng)
    _facades(canvas, street, rng, side=-1)
    _facades(canvas, street, rng, side=1)
    for draw, foot_y, x in sorted(_objects(street, rng), key=lambda item: item[1]):  # far to near
        draw(canvas, street, foot_y, x, rng)
    if rng.random() < 0.25:
        _bonnet(canvas, rng)
    return _finish(canvas, rng, fog), canvas.mask


def _street(rng: np.random.Generator, h: int, w: int) -> Street:
    horizon = rng.uniform(0.36, 0.5) * h
    vanish_x = rng.uniform(0.3, 0.7) * w
    half_road = rng.uniform(0.35, 0.7) * w
    centre = vanish_x + rng.uniform(-0.15, 0.15) * w  # the camera is not always mid-road
    walk = rng.uniform(0.25, 0.6) * w
    return Street(
        horizon,
        vanish_x,
        (centre - half_road, centre + half_road),
        (centre - half_road - walk, centre + half_road + walk),
        h,
    )


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-scale value noise: a (cells+1)² random grid, bilinearly upsampled to (H, W)."""
    grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    ys, xs = np.linspace(0, cells, h, dtype=np.float32), np.linspace(0, cells, w, dtype=np.float32)
    y0, x0 = np.minimum(ys.astype(int), cells - 1), np.minimum(xs.astype(int), cells - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _jitter(rng: np.random.Generator, colour: list[float], amount: float) -> np.ndarray:
    return np.clip(np.asarray(colour, np.float32) + rng.uniform(-amount, amount, 3).astype(np.float32), 0, 1)


def _sky(c: Canvas, s: Street, rng: np.random.Generator) -> None:
    """Blue-to-pale gradient with soft clouds (the whole canvas starts as sky)."""
    h, w = c.mask.shape
    top, low = _jitter(rng, [0.32, 0.52, 0.85], 0.1), _jitter(rng, [0.78, 0.84, 0.92], 0.06)
    ramp = np.clip(c.yy / max(s.horizon, 1.0), 0, 1)[..., None]  # (H, 1, 1)
    clouds = np.clip(smooth_noise(rng, h, w, 4) * rng.uniform(0.1, 0.35), 0, None)[..., None]
    c.rgb[:] = np.clip(top * (1 - ramp) + low * ramp + clouds, 0, 1)


def _ground(c: Canvas, s: Street, rng: np.random.Generator) -> None:
    """Road with dashed centre line, sidewalks with paving joints, and verges beyond them."""
    h, w = c.mask.shape
    below = c.yy > s.horizon + 0.5
    t = np.maximum(s.t(c.yy), 1e-3)  # (H, 1)
    depth = 1.0 / t
    left, right = s.edge(s.road[0], c.yy), s.edge(s.road[1], c.yy)
    road = below & (c.xx >= left) & (c.xx <= right)
    grey = rng.uniform(0.25, 0.45)
    asphalt = grey + 0.04 * rng.standard_normal((h, w)).astype(np.float32)
    c.paint(road, np.repeat(asphalt[..., None], 3, 2) * _jitter(rng, [1.0, 1.0, 1.02], 0.03), ROAD, depth)
    mid = s.edge((s.road[0] + s.road[1]) / 2, c.yy)
    dashes = (np.abs(c.xx - mid) < np.maximum(0.12 * s.px_per_m(c.yy), 0.45)) & ((depth * 0.8) % 1.0 < 0.5)
    c.paint(road & dashes, _jitter(rng, [0.92, 0.9, 0.75], 0.06), ROAD, depth)
    walk = below & ~road & (c.xx >= s.edge(s.outer[0], c.yy)) & (c.xx <= s.edge(s.outer[1], c.yy))
    paving = _jitter(rng, [0.62, 0.58, 0.52], 0.1)
    joints = ((depth * 2.0) % 1.0 < 0.12)[..., None] * 0.12
    c.paint(
        walk,
        np.clip(paving - joints + 0.03 * rng.standard_normal((h, w, 1)).astype(np.float32), 0, 1),
        SIDEWALK,
        depth,
    )
    verge = below & ~road & ~walk  # behind the facades' feet: grass where no building stands
    grass = _jitter(rng, [0.28, 0.45, 0.2], 0.08) * (1 + 0.15 * smooth_noise(rng, h, w, 8))[..., None]
    c.paint(verge, np.clip(grass, 0, 1), VEGETATION, depth)


def _facades(c: Canvas, s: Street, rng: np.random.Generator, side: int) -> None:
    """One row of buildings (some replaced by parks), each a facade slab from its roof line to the sidewalk's edge.

    Per-column arrays (1×W) carry each column's building, so one side is painted in a few whole-image passes.
    """
    h, w = c.mask.shape
    outer_x = s.outer[0] if side < 0 else s.outer[1]
    span = max(
        (s.vanish_x - outer_x) * -side, 1e-3
    )  # columns from the vanishing point to the bottom-row edge
    dist = (c.xx - s.vanish_x) * side  # (1, W), > 0 on this side
    foot = s.horizon + np.clip(dist / span, 0, None) * (h - s.horizon)  # where the outer sidewalk edge passes
    depth = np.clip((h - s.horizon) / np.maximum(foot - s.horizon, 1e-3), 1, 1e3) * np.ones_like(c.yy)
    count = int(rng.integers(4, 8))
    edges = np.sort(rng.uniform(0.0, 1.0, count - 1)) * max(abs(s.vanish_x - (0 if side < 0 else w)), 1)
    which = np.searchsorted(edges, dist)  # (1, W) building index of each column
    shade = rng.uniform(0.65, 1.0)  # the sunlit and the shaded side of the street
    park = (rng.random(count) < 0.15)[which]
    slope = (rng.uniform(0.5, 2.2, count) * (h - s.horizon) / span)[which]  # roof height grows with distance
    roof = s.horizon - slope * dist
    side_cols = dist > 0
    body = side_cols & ~park & (c.yy >= roof) & (c.yy < foot)
    period = np.maximum(np.maximum(dist / span, 0.02) * (h - s.horizon) / 3.0, 2.2)  # about a storey, in px
    windows = (
        ((c.xx / period) % 1.0 > 0.45)
        & (((c.yy - roof) / period) % 1.0 > 0.35)
        & (c.yy > roof + period * 0.6)
    )
    walls = (
        np.stack([_jitter(rng, [0.7, 0.62, 0.52], 0.22) for _ in range(count)])[which[0]] * shade
    )  # (W, 3)
    glass = np.stack([_jitter(rng, [0.25, 0.32, 0.42], 0.08) for _ in range(count)])[which[0]] * shade
    grain = (1 + 0.05 * smooth_noise(rng, h, w, 12))[..., None]
    colour = np.where(windows[..., None], glass[None], walls[None]) * grain
    c.paint(body, np.clip(colour, 0, 1), BUILDING, depth)
    top = foot - (foot - s.horizon) * (1.2 + 0.6 * smooth_noise(rng, 1, w, 6)) - 0.5
    crown = side_cols & park & (c.yy >= top) & (c.yy < foot)
    green = _jitter(rng, [0.2, 0.38, 0.15], 0.08) * (1 + 0.25 * smooth_noise(rng, h, w, 10))[..., None]
    c.paint(crown, np.clip(green, 0, 1), VEGETATION, depth)


def _objects(s: Street, rng: np.random.Generator) -> list[tuple]:
    """(painter, foot row, foot column) of every standing object, before depth sorting."""
    h = s.height
    items = []

    def foot_row() -> float:
        return s.horizon + (h - s.horizon) * rng.uniform(0.08, 1.05) ** 1.5  # more far than near

    for _ in range(rng.integers(0, 5)):
        y = foot_row()
        items.append(
            (
                _car,
                y,
                s.edge(
                    float(rng.uniform(s.road[0] * 0.8 + s.road[1] * 0.2, s.road[0] * 0.2 + s.road[1] * 0.8)),
                    y,
                ),
            )
        )
    # (painter, how many, where across the sidewalk: 0 = the kerb, 1 = the facades)
    for painter, count, near_road in (
        (_person, rng.integers(0, 5), (0.1, 0.9)),
        (_pole, rng.integers(1, 4), (0.05, 0.15)),
        (_tree, rng.integers(0, 4), (0.6, 0.95)),
    ):
        for _ in range(count):
            y = foot_row()
            left = rng.random() < 0.5
            road_x, outer_x = (s.road[0], s.outer[0]) if left else (s.road[1], s.outer[1])
            q = rng.uniform(*near_road)
            items.append((painter, y, s.edge(road_x + (outer_x - road_x) * q, y)))
    return items


def _box(c: Canvas, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    """Pixels whose centres lie in [x0, x1] × [y0, y1], at least one pixel wide."""
    if x1 - x0 < 1.0:
        mid = (x0 + x1) / 2
        x0, x1 = mid - 0.5, mid + 0.5
    return (c.xx >= x0) & (c.xx <= x1) & (c.yy >= y0) & (c.yy <= y1)


def _car(c: Canvas, s: Street, y: float, x: float, rng: np.random.Generator) -> None:
    """A car seen from behind: body, cabin with a dark rear window, dark wheels."""
    m = s.px_per_m(y)
    depth = 1.0 / max(float(s.t(y)), 1e-3)
    half, height = 0.9 * m, 1.5 * m
    body = _jitter(rng, [0.5, 0.5, 0.5], 0.45)
    c.paint(_box(c, x - half, x + half, y - 0.6 * height, y - 0.15 * height), body, CAR, depth)
    c.paint(_box(c, x - 0.75 * half, x + 0.75 * half, y - height, y - 0.6 * height), body * 0.9, CAR, depth)
    c.paint(
        _box(c, x - 0.6 * half, x + 0.6 * half, y - 0.92 * height, y - 0.66 * height),
        np.array([0.1, 0.12, 0.16], np.float32),
        CAR,
        depth,
    )
    for wheel in (-1, 1):
        cx = x + wheel * 0.7 * half
        tyre = np.array([0.05, 0.05, 0.05], np.float32)
        c.paint(_box(c, cx - 0.2 * half, cx + 0.2 * half, y - 0.2 * height, y), tyre, CAR, depth)
    lamps = np.array([0.8, 0.1, 0.1], np.float32)
    for lamp in (-1, 1):
        cx = x + lamp * 0.85 * half
        c.paint(
            _box(c, cx - 0.12 * half, cx + 0.12 * half, y - 0.55 * height, y - 0.45 * height),
            lamps,
            CAR,
            depth,
        )


def _person(c: Canvas, s: Street, y: float, x: float, rng: np.random.Generator) -> None:
    """A pedestrian: legs, torso in a random colour, round head."""
    m = s.px_per_m(y)
    depth = 1.0 / max(float(s.t(y)), 1e-3)
    tall = rng.uniform(1.55, 1.9) * m
    half = 0.22 * m
    legs = _jitter(rng, [0.2, 0.2, 0.3], 0.15)
    c.paint(_box(c, x - half * 0.8, x + half * 0.8, y - 0.48 * tall, y), legs, PERSON, depth)
    c.paint(
        _box(c, x - half, x + half, y - 0.85 * tall, y - 0.45 * tall),
        _jitter(rng, [0.5, 0.4, 0.4], 0.45),
        PERSON,
        depth,
    )
    r = max(0.11 * tall, 0.5)
    head = (c.xx - x) ** 2 + (c.yy - (y - 0.92 * tall)) ** 2 <= r * r
    c.paint(head, _jitter(rng, [0.75, 0.58, 0.45], 0.15), PERSON, depth)


def _pole(c: Canvas, s: Street, y: float, x: float, rng: np.random.Generator) -> None:
    """A thin metal pole, often carrying a sign plate (both labelled pole)."""
    m = s.px_per_m(y)
    depth = 1.0 / max(float(s.t(y)), 1e-3)
    tall = rng.uniform(3.0, 6.0) * m
    c.paint(
        _box(c, x - 0.12 * m, x + 0.12 * m, y - tall, y), _jitter(rng, [0.35, 0.36, 0.38], 0.1), POLE, depth
    )
    if rng.random() < 0.6:
        plate = [[0.8, 0.1, 0.1], [0.1, 0.3, 0.75], [0.95, 0.95, 0.95], [0.95, 0.75, 0.1]][rng.integers(4)]
        c.paint(
            _box(c, x - 0.35 * m, x + 0.35 * m, y - tall, y - tall + 0.6 * m),
            np.asarray(plate, np.float32),
            POLE,
            depth,
        )


def _tree(c: Canvas, s: Street, y: float, x: float, rng: np.random.Generator) -> None:
    """A street tree: brown trunk and a noisy round crown (both vegetation)."""
    h, w = c.mask.shape
    m = s.px_per_m(y)
    depth = 1.0 / max(float(s.t(y)), 1e-3)
    trunk = rng.uniform(2.0, 3.5) * m
    bark = _jitter(rng, [0.35, 0.25, 0.15], 0.06)
    c.paint(_box(c, x - 0.15 * m, x + 0.15 * m, y - trunk, y), bark, VEGETATION, depth)
    radius = rng.uniform(1.5, 2.8) * m
    cy = y - trunk - 0.6 * radius
    wobble = 1 + 0.25 * smooth_noise(rng, h, w, 6)
    crown = ((c.xx - x) ** 2 + ((c.yy - cy) * 1.15) ** 2) <= (radius * wobble) ** 2
    green = _jitter(rng, [0.22, 0.42, 0.16], 0.08) * (1 + 0.3 * smooth_noise(rng, h, w, 14))[..., None]
    c.paint(crown, np.clip(green, 0, 1), VEGETATION, depth)


def _bonnet(c: Canvas, rng: np.random.Generator) -> None:
    """The camera car's bonnet across the bottom rows: unlabelled (ignore), as in Cityscapes."""
    h, w = c.mask.shape
    top = h * rng.uniform(0.86, 0.94)
    bulge = (c.yy - h * 1.3) ** 2 / (h * 1.3 - top) ** 2 + (c.xx - w / 2) ** 2 / (w * 0.9) ** 2 <= 1
    c.paint(bulge, _jitter(rng, [0.15, 0.15, 0.17], 0.1), IGNORE, 1.0)


def _finish(c: Canvas, rng: np.random.Generator, fog: bool) -> np.ndarray:
    """Lighting, haze or fog by distance, vignette and sensor noise; to uint8."""
    h, w = c.mask.shape
    light = rng.uniform(0.75, 1.15) * (0.75 if fog else 1.0)
    warm = rng.uniform(-0.08, 0.08)
    img = c.rgb * light * np.array([1 + warm, 1.0, 1 - warm], np.float32)
    density = rng.uniform(0.12, 0.3) if fog else rng.uniform(0.0, 0.03)
    veil = (1 - np.exp(-density * np.minimum(c.depth, 30.0)))[..., None]
    haze = np.float32(rng.uniform(0.55, 0.75) if fog else 0.8) * light
    img = img * (1 - veil) + haze * veil
    radius2 = ((c.xx / w - 0.5) ** 2 + (c.yy / h - 0.5) ** 2) * 2  # (H, W), 1 in the corners
    img = img * (1 - rng.uniform(0.0, 0.3) * radius2)[..., None]
    img = img + rng.uniform(0.005, 0.03) * rng.standard_normal((h, w, 3)).astype(np.float32)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
