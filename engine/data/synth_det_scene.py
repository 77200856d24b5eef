"""A procedural street scene for detection: boxed cars, people and signs among clutter (numpy).

The background (sky, road, sidewalks, facades) comes from the segmentation scene's painters, rendered at
half resolution and upscaled (it is most of the cost, and needs no fine detail). Objects are drawn at full
resolution, far to near, standing on the ground and scaled by their distance, so near ones occlude far
ones and some stand partly outside the frame. Every object pixel records which object painted it last; a
box is the extent of what stays visible (as COCO boxes bound the visible segmentation), and an object
hidden below a third of its drawn area gets no box. Distractors (trees, bare lamp posts, bins, cones) are
drawn the same way without boxes.

Classes are told apart by shape and colour, as a tiny detector can learn in minutes: cars are wide with
dark wheels and a dark window, people tall and thin with a round head, signs a small square or disc on a
pole (the box is the plate). The `dusk` style shifts the look: darker, warmer, lower contrast, and car
paints from another palette.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from engine.data import synth_seg_scene as seg

CLASSES = ("car", "person", "sign")
CAR, PERSON, SIGN = range(len(CLASSES))
MIN_VISIBLE = 1 / 3  # of an object's drawn area; below it the object gets no box
MIN_BOX_PX = 2  # visible extent, each side


@dataclass(frozen=True)
class Style:
    """How a split looks: car paints, light level, colour cast and contrast."""

    car_paints: tuple[tuple[float, float, float], ...]
    light: tuple[float, float]
    warmth: tuple[float, float]  # > 0: redder and less blue
    contrast: tuple[float, float]  # 1 = as painted; lower pulls every pixel toward the image mean


DAY = Style(
    car_paints=(
        (0.75, 0.1, 0.1),
        (0.12, 0.25, 0.7),
        (0.9, 0.9, 0.92),
        (0.6, 0.62, 0.65),
        (0.08, 0.08, 0.1),
        (0.1, 0.4, 0.2),
    ),
    light=(0.85, 1.15),
    warmth=(-0.06, 0.06),
    contrast=(0.9, 1.1),
)
DUSK = Style(
    car_paints=((0.95, 0.8, 0.1), (0.95, 0.45, 0.05), (0.1, 0.6, 0.6), (0.5, 0.2, 0.6), (0.55, 0.8, 0.2)),
    light=(0.5, 0.7),
    warmth=(0.12, 0.22),
    contrast=(0.6, 0.8),
)
STYLES = {"day": DAY, "dusk": DUSK}


class Scene:
    """The full-resolution image being painted and, per pixel, the object that painted it last (-1: none)."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb  # (H, W, 3) float32 in [0, 1]
        self.owner = np.full(rgb.shape[:2], -1, np.int32)
        self.height, self.width = rgb.shape[:2]

    def rect(self, owner: int, colour: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> None:
        """Fill the pixels whose centres lie in [x0, x1] × [y0, y1] (at least one pixel wide)."""
        if x1 - x0 < 1.0:
            x0, x1 = (x0 + x1) / 2 - 0.5, (x0 + x1) / 2 + 0.5
        c0, c1 = max(int(np.ceil(x0 - 0.5)), 0), min(int(np.floor(x1 - 0.5)) + 1, self.width)
        r0, r1 = max(int(np.ceil(y0 - 0.5)), 0), min(int(np.floor(y1 - 0.5)) + 1, self.height)
        if c1 > c0 and r1 > r0:
            self.rgb[r0:r1, c0:c1] = colour
            self.owner[r0:r1, c0:c1] = owner

    def disc(self, owner: int, colour: np.ndarray, cx: float, cy: float, radius: float) -> None:
        radius = max(radius, 0.6)
        c0, c1 = max(int(cx - radius), 0), min(int(np.ceil(cx + radius)) + 1, self.width)
        r0, r1 = max(int(cy - radius), 0), min(int(np.ceil(cy + radius)) + 1, self.height)
        if c1 <= c0 or r1 <= r0:
            return
        yy = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
        xx = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius * radius
        self.rgb[r0:r1, c0:c1][inside] = colour
        self.owner[r0:r1, c0:c1][inside] = owner


def _colour(
    rng: np.random.Generator, base: tuple[float, float, float] | list[float], jitter: float
) -> np.ndarray:
    return np.clip(np.asarray(base, np.float32) + rng.uniform(-jitter, jitter, 3).astype(np.float32), 0, 1)


def _car(
    sc: Scene, k: int, s: seg.Street, y: float, x: float, rng: np.random.Generator, style: Style
) -> None:
    """From behind (on the road) or side-on (parked): a wide body, a darker cabin, dark wheels, lamps."""
    m = s.px_per_m(y)
    paint = _colour(rng, style.car_paints[rng.integers(len(style.car_paints))], 0.08)
    side_on = rng.random() < 0.3
    half, height = (
        (rng.uniform(1.9, 2.3) if side_on else rng.uniform(0.85, 1.0)) * m,
        rng.uniform(1.35, 1.6) * m,
    )
    tyre, glass = np.array([0.04, 0.04, 0.05], np.float32), _colour(rng, [0.12, 0.15, 0.2], 0.04)
    sc.rect(k, paint, x - half, x + half, y - 0.62 * height, y - 0.15 * height)
    cabin = 0.6 if side_on else 0.78
    sc.rect(k, paint * 0.85, x - cabin * half, x + cabin * half, y - height, y - 0.6 * height)
    sc.rect(
        k, glass, x - (cabin - 0.12) * half, x + (cabin - 0.12) * half, y - 0.93 * height, y - 0.66 * height
    )
    if side_on:
        for wheel in (-0.62, 0.62):
            sc.disc(k, tyre, x + wheel * half, y - 0.17 * height, 0.2 * height)
    else:
        for wheel in (-1, 1):
            cx = x + wheel * 0.72 * half
            sc.rect(k, tyre, cx - 0.2 * half, cx + 0.2 * half, y - 0.22 * height, y)
        lamp = np.array([0.85, 0.08, 0.08], np.float32)
        for side in (-1, 1):
            cx = x + side * 0.82 * half
            sc.rect(k, lamp, cx - 0.12 * half, cx + 0.12 * half, y - 0.55 * height, y - 0.45 * height)


def _person(
    sc: Scene, k: int, s: seg.Street, y: float, x: float, rng: np.random.Generator, style: Style
) -> None:
    """Two legs, a torso in a random colour, arms at its sides, a round skin-coloured head."""
    m = s.px_per_m(y)
    tall, half = rng.uniform(1.5, 1.9) * m, rng.uniform(0.25, 0.32) * m
    legs, torso = _colour(rng, [0.2, 0.2, 0.3], 0.15), _colour(rng, [0.5, 0.45, 0.45], 0.45)
    stride = rng.uniform(0.0, 0.35) * half
    sc.rect(k, legs, x - half * 0.8 - stride, x - half * 0.1 - stride, y - 0.48 * tall, y)
    sc.rect(k, legs, x + half * 0.1 + stride, x + half * 0.8 + stride, y - 0.48 * tall, y)
    sc.rect(k, torso, x - half, x + half, y - 0.84 * tall, y - 0.45 * tall)
    sc.rect(k, torso * 0.8, x - 1.35 * half, x - half, y - 0.82 * tall, y - 0.5 * tall)
    sc.rect(k, torso * 0.8, x + half, x + 1.35 * half, y - 0.82 * tall, y - 0.5 * tall)
    sc.disc(k, _colour(rng, [0.78, 0.6, 0.47], 0.15), x, y - 0.92 * tall, 0.085 * tall)


def _sign(
    sc: Scene, k: int, s: seg.Street, y: float, x: float, rng: np.random.Generator, style: Style
) -> None:
    """A grey pole (no box) carrying a plate (the box): a blue or white square, or a red-rimmed disc."""
    m = s.px_per_m(y)
    top, plate = rng.uniform(2.2, 3.0) * m, rng.uniform(0.7, 0.95) * m
    sc.rect(-1, _colour(rng, [0.45, 0.46, 0.48], 0.06), x - 0.05 * m, x + 0.05 * m, y - top + plate / 2, y)
    cy = y - top
    if rng.random() < 0.5:
        face = [(0.1, 0.3, 0.8), (0.95, 0.95, 0.95), (0.95, 0.8, 0.1)][rng.integers(3)]
        sc.rect(k, _colour(rng, face, 0.04), x - plate / 2, x + plate / 2, cy - plate / 2, cy + plate / 2)
        sc.rect(
            k,
            np.array([0.95, 0.95, 0.95], np.float32),
            x - plate / 6,
            x + plate / 6,
            cy - plate / 4,
            cy + plate / 4,
        )
    else:
        sc.disc(k, np.array([0.85, 0.08, 0.08], np.float32), x, cy, plate / 2)
        sc.disc(k, np.array([0.95, 0.95, 0.95], np.float32), x, cy, plate / 3)


def _tree(sc: Scene, s: seg.Street, y: float, x: float, rng: np.random.Generator) -> None:
    m = s.px_per_m(y)
    trunk = rng.uniform(2.0, 3.2) * m
    sc.rect(-1, _colour(rng, [0.35, 0.25, 0.15], 0.05), x - 0.15 * m, x + 0.15 * m, y - trunk, y)
    radius = rng.uniform(1.3, 2.4) * m
    green = _colour(rng, [0.22, 0.42, 0.16], 0.08)
    for _ in range(3):  # a lumpy crown
        dx, dy = rng.uniform(-0.5, 0.5, 2) * radius
        sc.disc(
            -1,
            green * rng.uniform(0.85, 1.1),
            x + dx,
            y - trunk - 0.5 * radius + dy * 0.5,
            radius * rng.uniform(0.6, 0.9),
        )


def _lamp(sc: Scene, s: seg.Street, y: float, x: float, rng: np.random.Generator) -> None:
    m = s.px_per_m(y)
    tall = rng.uniform(4.0, 6.0) * m
    grey = _colour(rng, [0.35, 0.36, 0.38], 0.06)
    sc.rect(-1, grey, x - 0.08 * m, x + 0.08 * m, y - tall, y)
    sc.rect(-1, grey, x - 0.08 * m, x + 0.9 * m, y - tall, y - tall + 0.15 * m)


def _bin(sc: Scene, s: seg.Street, y: float, x: float, rng: np.random.Generator) -> None:
    m = s.px_per_m(y)
    if rng.random() < 0.5:  # a wheelie bin
        sc.rect(-1, _colour(rng, [0.15, 0.35, 0.2], 0.1), x - 0.3 * m, x + 0.3 * m, y - 1.0 * m, y)
    else:  # a traffic cone: orange, like nothing boxed
        for step in range(3):
            half = (0.25 - 0.07 * step) * m
            sc.rect(
                -1,
                np.array([0.95, 0.45, 0.1], np.float32),
                x - half,
                x + half,
                y - (step + 1) * 0.25 * m,
                y - step * 0.25 * m,
            )


_BOXED = {CAR: _car, PERSON: _person, SIGN: _sign}
_CLUTTER = (_tree, _lamp, _bin)


def _placements(s: seg.Street, rng: np.random.Generator) -> list[tuple[float, float, int]]:
    """(foot row, foot column, kind) of every object: kind is a class index, or -1 - i for clutter painter i."""
    h = s.height

    def foot_row(nearest: float = 0.12) -> float:  # more far than near; past the bottom row: cut by the frame
        return s.horizon + (h - s.horizon) * rng.uniform(nearest, 1.12) ** 1.4

    def on_road(nearest: float = 0.12) -> tuple[float, float]:
        y = foot_row(nearest)
        return y, float(s.edge(s.road[0] + (s.road[1] - s.road[0]) * rng.uniform(0.12, 0.88), y))

    def beside_road(near: tuple[float, float], nearest: float = 0.12) -> tuple[float, float]:
        y = foot_row(nearest)
        road_x, outer_x = (s.road[0], s.outer[0]) if rng.random() < 0.5 else (s.road[1], s.outer[1])
        return y, float(s.edge(road_x + (outer_x - road_x) * rng.uniform(*near), y))

    items = []
    for _ in range(rng.integers(1, 6)):
        items.append((*on_road(), CAR))
    for _ in range(rng.integers(0, 3)):  # parked at the kerb, side-on
        items.append((*beside_road((-0.12, 0.0)), CAR))
    # People and signs far away are a few pixels wide: fewer of them than of the (wider) cars.
    for _ in range(rng.integers(1, 6)):
        crossing = rng.random() < 0.25
        items.append((*(on_road(0.25) if crossing else beside_road((0.1, 0.9), 0.25)), PERSON))
    for _ in range(rng.integers(0, 4)):
        items.append((*beside_road((0.02, 0.12), 0.25), SIGN))
    for i, count in enumerate((rng.integers(0, 4), rng.integers(0, 3), rng.integers(0, 3))):
        for _ in range(count):
            items.append((*beside_road((0.05, 0.95)), -1 - i))
    return sorted(items, key=lambda item: item[0])  # far to near


def _background(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, seg.Street]:
    """Sky, ground and facades painted at half size and upscaled; the street geometry at full size."""
    h, w = size
    small_h, small_w = max(h // 2, 8), max(w // 2, 8)
    canvas = seg.Canvas(
        np.zeros((small_h, small_w, 3), np.float32),
        np.full((small_h, small_w), seg.SKY, np.uint8),
        np.full((small_h, small_w), 1e3, np.float32),
        np.arange(small_h, dtype=np.float32)[:, None] + 0.5,
        np.arange(small_w, dtype=np.float32)[None, :] + 0.5,
    )
    street = seg._street(rng, small_h, small_w)
    seg._sky(canvas, street, rng)
    seg._ground(canvas, street, rng)
    seg._facades(canvas, street, rng, side=-1)
    seg._facades(canvas, street, rng, side=1)
    small = Image.fromarray((np.clip(canvas.rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    rgb = np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), np.float32) / 255
    fy, fx = h / small_h, w / small_w
    full = seg.Street(
        street.horizon * fy,
        street.vanish_x * fx,
        (street.road[0] * fx, street.road[1] * fx),
        (street.outer[0] * fx, street.outer[1] * fx),
        h,
    )
    return rgb, full


def render_det_scene(
    rng: np.random.Generator, size: tuple[int, int], style: Style = DAY
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One scene: image (H, W, 3) uint8, boxes (n, 4) float32 x1, y1, x2, y2 in pixels, labels (n,) int64."""
    rgb, street = _background(rng, size)
    scene = Scene(rgb.copy())
    drawn: list[tuple[int, int]] = []  # (object number, class) of boxed objects
    areas: list[int] = []
    for y, x, kind in _placements(street, rng):
        if kind < 0:
            _CLUTTER[-1 - kind](scene, street, y, x, rng)
            continue
        number = len(drawn)
        _BOXED[kind](scene, number, street, y, x, rng, style)
        drawn.append((number, kind))
        areas.append(int((scene.owner == number).sum()))
    boxes, labels = _visible_boxes(scene.owner, drawn, areas)
    return _finish(scene.rgb, rng, style), boxes, labels


def _visible_boxes(
    owner: np.ndarray, drawn: list[tuple[int, int]], areas: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The extent of each object's visible pixels, for objects visible enough to be labelled."""
    boxes, labels = [], []
    for number, kind in drawn:
        rows, cols = np.nonzero(owner == number)
        if len(rows) == 0 or len(rows) < MIN_VISIBLE * areas[number]:
            continue
        x1, x2, y1, y2 = cols.min(), cols.max() + 1, rows.min(), rows.max() + 1
        if x2 - x1 >= MIN_BOX_PX and y2 - y1 >= MIN_BOX_PX:
            boxes.append((x1, y1, x2, y2))
            labels.append(kind)
    return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64)


def _finish(rgb: np.ndarray, rng: np.random.Generator, style: Style) -> np.ndarray:
    """Light level, colour cast, contrast, vignette and sensor noise; to uint8."""
    h, w = rgb.shape[:2]
    warmth = rng.uniform(*style.warmth)
    img = rgb * (rng.uniform(*style.light) * np.array([1 + warmth, 1.0, 1 - warmth], np.float32))
    mean = img.mean(axis=(0, 1), keepdims=True)
    img = mean + (img - mean) * np.float32(rng.uniform(*style.contrast))
    yy, xx = np.ogrid[:h, :w]
    radius2 = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2
    img = img * (1 - rng.uniform(0.0, 0.25) * radius2).astype(np.float32)[..., None]
    img = img + rng.uniform(0.005, 0.025) * rng.standard_normal((h, w, 3), np.float32)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
