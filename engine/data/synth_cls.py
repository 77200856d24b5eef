"""The embedded synthetic classification set: one procedural shape per image, ImageFolder layout (numpy + Pillow).

Layout (what `engine.data.formats.image_folder` reads):
    root/<split>/<class>/<class>_<index>.jpg    splits: train, val (same conditions), noisy (shifted)
    root/synth_cls.json                         parameters and counts; written last (marks a complete build)
Each image shows one shape of its class (random size, rotation, position, colours and texture) on a
smooth textured background; `noisy` lowers the contrast, adds sensor noise and background clutter.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.synth_manifest import build_once, check_sizes, stored_summary
from engine.data.synth_seg_scene import smooth_noise

CLASSES = ("circle", "ring", "square", "triangle", "cross", "flower", "crescent", "bar")
SPLITS = ("train", "val", "noisy")
MANIFEST = "synth_cls.json"
_SPLIT_CODES = {"train": 1, "val": 2, "noisy": 3}


@dataclass(frozen=True)
class SynthClsParams:
    """Everything that determines the files; stored in synth_cls.json."""

    seed: int = 0
    train_per_class: int = 100
    test_per_class: int = 25
    image_size: int = 64  # square side in pixels
    version: int = 2  # bump when the generator changes, so old folders are rebuilt


def make_synth_cls(
    root: Path, seed: int = 0, train_per_class: int = 100, test_per_class: int = 25, image_size: int = 64
) -> dict:
    """Write the data set under `root` (reusing a complete one with the same parameters); return a summary."""
    check_sizes(
        "synthetic classification set",
        {"train_per_class": train_per_class, "test_per_class": test_per_class, "image_size": image_size},
    )
    params = SynthClsParams(seed, train_per_class, test_per_class, image_size)
    root = Path(root)

    def write() -> dict:
        nbytes, counts = 0, {}
        for split in SPLITS:
            per_class = train_per_class if split == "train" else test_per_class
            counts[split] = per_class * len(CLASSES)
            for label, name in enumerate(CLASSES):
                folder = root / split / name
                folder.mkdir(parents=True, exist_ok=True)
                for index in range(per_class):
                    buf = io.BytesIO()
                    Image.fromarray(render_item(params, split, label, index)).save(buf, "JPEG", quality=92)
                    (folder / f"{name}_{index:05d}.jpg").write_bytes(buf.getvalue())
                    nbytes += buf.tell()
        return {"classes": list(CLASSES), "counts": counts, "bytes": nbytes}

    return build_once(root, MANIFEST, params, _clear, write)


def render_item(params: SynthClsParams, split: str, label: int, index: int) -> np.ndarray:
    """One (S, S, 3) uint8 image of class `label`: a pure function of (params, split, label, index)."""
    rng = np.random.default_rng([params.seed, _SPLIT_CODES[split], label, index])
    size = params.image_size
    noisy = split == "noisy"
    background = _background(rng, size, clutter=noisy)
    shape = shape_mask(CLASSES[label], rng, size)
    colour = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    mean = background.mean(axis=(0, 1))
    if np.abs(colour - mean).sum() < 0.6:  # keep the shape visible against its background
        colour = np.where(mean > 0.5, colour * 0.4, 0.6 + colour * 0.4).astype(np.float32)
    texture = 1 + 0.15 * smooth_noise(rng, size, size, 6)[..., None]
    alpha = shape[..., None] * (rng.uniform(0.45, 0.75) if noisy else 1.0)
    img = background * (1 - alpha) + np.clip(colour * texture, 0, 1) * alpha
    img = img + (rng.uniform(0.04, 0.1) if noisy else 0.015) * rng.standard_normal(img.shape).astype(
        np.float32
    )
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _background(rng: np.random.Generator, size: int, clutter: bool) -> np.ndarray:
    """A smooth two-colour gradient with value noise; with clutter, also random thin strokes."""
    a, b = rng.uniform(0, 1, 3).astype(np.float32), rng.uniform(0, 1, 3).astype(np.float32)
    mix = np.clip(0.5 + 0.35 * smooth_noise(rng, size, size, 2), 0, 1)[..., None]
    img = a * (1 - mix) + b * mix + 0.05 * smooth_noise(rng, size, size, 10)[..., None]
    if clutter:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        for _ in range(rng.integers(3, 7)):
            angle, offset = rng.uniform(0, np.pi), rng.uniform(-0.5, 0.5) * size
            line = np.abs((xx - size / 2) * np.cos(angle) + (yy - size / 2) * np.sin(angle) - offset) < 0.8
            img[line] = rng.uniform(0, 1, 3)
    return img.astype(np.float32)


def shape_mask(name: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """(S, S) float32 coverage in [0, 1] of one shape, randomly scaled, rotated and placed."""
    radius = rng.uniform(0.28, 0.42) * size
    centre = size / 2 + rng.uniform(-1, 1, 2) * (size / 2 - radius) * 0.8
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx, dy = xx - centre[0], yy - centre[1]
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / radius  # shape coordinates: the shape spans about [-1, 1]
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / radius
    r, theta = np.hypot(u, v), np.arctan2(v, u)
    inside = {
        "circle": lambda: r < 1,
        "ring": lambda: (r < 1) & (r > 0.6),
        "square": lambda: np.maximum(np.abs(u), np.abs(v)) < 0.8,
        "triangle": lambda: _polygon(u, v, 3, 1.0),
        "cross": lambda: ((np.abs(u) < 0.3) & (np.abs(v) < 1)) | ((np.abs(v) < 0.3) & (np.abs(u) < 1)),
        "flower": lambda: r < 0.45 + 0.55 * np.abs(np.cos(2.5 * theta)),
        "crescent": lambda: (r < 1) & (np.hypot(u - 0.45, v) > 0.8),
        "bar": lambda: (np.abs(u) < 1) & (np.abs(v) < 0.28),
    }[name]()
    return inside.astype(np.float32)


def _polygon(u: np.ndarray, v: np.ndarray, sides: int, radius: float) -> np.ndarray:
    """Inside a regular polygon with `sides` sides and circumradius `radius`."""
    inner = radius * np.cos(np.pi / sides)
    keep = np.ones_like(u, dtype=bool)
    for k in range(sides):
        a = 2 * np.pi * k / sides
        keep &= u * np.cos(a) + v * np.sin(a) < inner
    return keep


def _clear(root: Path) -> None:
    """Remove a stale manifest and the JPEGs of a previous build, with class folders it leaves empty."""
    (root / MANIFEST).unlink(missing_ok=True)
    for split in SPLITS:
        for folder in (root / split).iterdir() if (root / split).is_dir() else ():
            if folder.is_dir():
                for path in folder.glob("*.jpg"):
                    path.unlink()
                if not any(folder.iterdir()):
                    folder.rmdir()  # a class the generator no longer makes must not linger as an empty class


def is_complete(root: Path, seed: int = 0) -> bool:
    """Whether `root` holds a finished build of the default size from this generator version and seed."""
    return stored_summary(Path(root), MANIFEST, SynthClsParams(seed=seed)) is not None
