"""The embedded synthetic segmentation set: procedural street scenes written as images/ + masks/ folders.

Layout (what `engine.data.formats.seg_folders` reads):
    root/classes.json                       class names in mask-index order
    root/<split>/images/<stem>.jpg          RGB
    root/<split>/masks/<stem>.png           single channel, class index per pixel, 255 = ignore
    root/synth_seg.json                     parameters and counts; written last (marks a complete build)
Splits: `train`, `val` (same conditions) and `fog` (distance fog and dim light: the shifted test set).
"""

from __future__ import annotations

import io
import json
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.synth_manifest import build_once, check_sizes, stored_summary
from engine.data.synth_seg_scene import CLASSES, render_scene

MANIFEST = "synth_seg.json"
SPLITS = ("train", "val", "fog")
_SPLIT_CODES = {"train": 1, "val": 2, "fog": 3}  # RNG namespaces: a split never depends on another's size
_CHUNK = 50  # images per worker job
_POOL_MIN_IMAGES = 200  # below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class SynthSegParams:
    """Everything that determines the files; stored in synth_seg.json."""

    seed: int = 0
    train_images: int = 400
    val_images: int = 100
    test_images: int = 100
    image_size: tuple[int, int] = (64, 96)  # (H, W)
    version: int = 1  # bump when the renderer changes, so old folders are rebuilt


def make_synth_seg(
    root: Path,
    seed: int = 0,
    train_images: int = 400,
    val_images: int = 100,
    test_images: int = 100,
    image_size: tuple[int, int] = (64, 96),
    workers: int = 2,
) -> dict:
    """Write the data set under `root` (reusing a complete one with the same parameters); return a summary.

    The summary (also root/synth_seg.json) holds the parameters, image counts per split, bytes written and
    seconds taken; `reused` tells whether an existing build was kept.
    """
    check_sizes(
        "synthetic segmentation set",
        {
            "train_images": train_images,
            "val_images": val_images,
            "test_images": test_images,
            "image height": image_size[0],
            "image width": image_size[1],
        },
    )
    params = SynthSegParams(
        seed, train_images, val_images, test_images, (int(image_size[0]), int(image_size[1]))
    )
    root = Path(root)
    sizes = {"train": train_images, "val": val_images, "fog": test_images}

    def write() -> dict:
        nbytes = _write_all(root, params, sizes, workers)
        (root / "classes.json").write_text(json.dumps(list(CLASSES)))
        return {"classes": list(CLASSES), "counts": sizes, "bytes": nbytes}

    return build_once(root, MANIFEST, params, _clear, write)


def render_pair(params: SynthSegParams, split: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Image (H, W, 3) uint8 and mask (H, W) uint8 of one item: a pure function of (params, split, index)."""
    rng = np.random.default_rng([params.seed, _SPLIT_CODES[split], index])
    return render_scene(rng, params.image_size, fog=split == "fog")


def _write_all(root: Path, params: SynthSegParams, sizes: dict[str, int], workers: int) -> int:
    """Render and write every split in chunks, in worker processes when it pays; returns the bytes written."""
    for split in SPLITS:
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "masks").mkdir(parents=True, exist_ok=True)
    jobs = [
        (str(root), params, split, start, min(start + _CHUNK, sizes[split]))
        for split in SPLITS
        for start in range(0, sizes[split], _CHUNK)
    ]
    if workers <= 1 or sum(sizes.values()) < _POOL_MIN_IMAGES:
        return sum(map(_write_chunk, jobs))
    # spawn, not fork: callers may already hold torch's thread pools, which fork can deadlock.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return sum(pool.imap_unordered(_write_chunk, jobs))


def _write_chunk(job: tuple[str, SynthSegParams, str, int, int]) -> int:
    """Worker: write items [start, stop) of one split; returns the bytes written."""
    root, params, split, start, stop = job
    images, masks = Path(root) / split / "images", Path(root) / split / "masks"
    nbytes = 0
    for index in range(start, stop):
        image, mask = render_pair(params, split, index)
        stem = f"{split}_{index:05d}"
        nbytes += _save(Image.fromarray(image), images / f"{stem}.jpg", "JPEG", quality=92)
        nbytes += _save(Image.fromarray(mask, mode="L"), masks / f"{stem}.png", "PNG")
    return nbytes


def _save(img: Image.Image, path: Path, fmt: str, **options: int) -> int:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    path.write_bytes(buf.getvalue())
    return buf.tell()


def is_complete(root: Path, seed: int = 0) -> bool:
    """Whether `root` holds a finished build of the default size from this generator version and seed."""
    return stored_summary(Path(root), MANIFEST, SynthSegParams(seed=seed)) is not None


def _clear(root: Path) -> None:
    """Remove a stale manifest and the files of a previous (partial or different) build; nothing else."""
    (root / MANIFEST).unlink(missing_ok=True)
    for split in SPLITS:
        for sub, pattern in (("images", "*.jpg"), ("masks", "*.png")):
            folder = root / split / sub
            for path in folder.glob(pattern) if folder.is_dir() else ():
                path.unlink()
