"""Load segmentation folders (`<split>/images/*.{jpg,png}` + `<split>/masks/*.png`) as uint8 arrays, cached.

Masks are single-channel PNGs of class indices (mode L or P; a palette PNG's indices are read as they
are). They are resized with nearest neighbour, checked against the class count, and their ignore value
is stored as IGNORE_MASK so the rest of the engine sees one convention.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# The resize cache of VPR images serves any image list; masks use the same file scheme next to them.
from engine.data.vpr_folders import IMAGE_SUFFIXES, _cache_path, _write_cache, load_images
from engine.errors import ConfigError, UserError

LAYOUT = "expected images/ (*.jpg or *.png) and masks/ (*.png, one per image, same name)"
IGNORE_MASK = 255  # stored value of unlabelled pixels, whatever task.ignore_index the files use
_MASK_MODES = ("L", "P", "I", "I;16")


@dataclass
class SegSplit:
    """Images (N, 3, H, W) uint8 and masks (N, H, W) uint8 (class index, IGNORE_MASK = unlabelled)."""

    images: np.ndarray
    masks: np.ndarray
    names: list[str]  # image file names, in order


def read_classes_json(root: Path) -> list[str] | None:
    """Class names from root/classes.json (a JSON list of names in index order), or None when absent."""
    path = Path(root) / "classes.json"
    if not path.is_file():
        return None
    try:
        names = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not readable as JSON ({exc})") from None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise UserError(f"{path}: expected a JSON list of class names in index order, e.g. [\"road\", \"sky\"]")
    return names


def load_seg_split(folder: str | Path, image_size: tuple[int, int], num_classes: int, ignore_index: int) -> SegSplit:
    """Every image/mask pair of a split folder, resized to `image_size` (H, W).

    Raises:
        UserError: a missing folder, unpaired files, a multi-channel mask, or mask values that are
            neither a class index nor `ignore_index` (naming the first such file).
    """
    folder = Path(folder)
    image_paths, mask_paths = _pairs(folder)
    images = load_images(image_paths, image_size, folder / "images")
    masks = _load_masks(mask_paths, image_size, folder / "masks")
    return SegSplit(images, _to_stored_labels(masks, mask_paths, num_classes, ignore_index),
                    [p.name for p in image_paths])


def check_ignore_index(ignore_index: int, num_classes: int) -> None:
    """The ignore value must fit a mask pixel and must not be a class index."""
    if not isinstance(ignore_index, int) or isinstance(ignore_index, bool) or not num_classes <= ignore_index <= 255:
        raise ConfigError("task.ignore_index", f"must be an integer in [{num_classes}, 255] (the mask value of "
                                               f"unlabelled pixels, not a class index), got {ignore_index!r}")


def _pairs(folder: Path) -> tuple[list[Path], list[Path]]:
    """Image and mask paths matched by file stem, sorted; UserError when missing or unpaired."""
    for sub in ("images", "masks"):
        if not (folder / sub).is_dir():
            raise UserError(f"segmentation folder {folder / sub} not found: {LAYOUT}")
    images = {p.stem: p for p in sorted((folder / "images").iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    masks = {p.stem: p for p in sorted((folder / "masks").iterdir()) if p.suffix.lower() == ".png"}
    if not images:
        raise UserError(f"segmentation folder {folder / 'images'} holds no images: {LAYOUT}")
    unpaired = sorted(set(images) ^ set(masks))
    if unpaired:
        stem = unpaired[0]
        what = f"mask {masks[stem].name} has no image" if stem in masks else f"image {images[stem].name} has no mask"
        raise UserError(f"segmentation folder {folder}: {len(unpaired)} unpaired file(s), e.g. {what} ({LAYOUT})")
    stems = sorted(images)
    return [images[s] for s in stems], [masks[s] for s in stems]


def _load_masks(paths: list[Path], image_size: tuple[int, int], folder: Path) -> np.ndarray:
    """(N, H, W) uint8 raw mask values, nearest-resized; cached like the images (key: size + file stats)."""
    cache = _cache_path(paths, image_size, folder)
    if cache.exists():
        try:
            masks = np.load(cache)
            if masks.shape == (len(paths), *image_size):
                return masks
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    masks = np.stack([_read_mask(p, image_size) for p in paths])
    _write_cache(cache, masks)
    return masks


def _read_mask(path: Path, image_size: tuple[int, int]) -> np.ndarray:
    height, width = image_size
    with Image.open(path) as img:
        if img.mode not in _MASK_MODES:
            raise UserError(f"mask {path} is a {img.mode} image: expected a single-channel PNG of class indices")
        if img.size != (width, height):
            img = img.resize((width, height), Image.Resampling.NEAREST)
        values = np.asarray(img)
    if values.max(initial=0) > 255 or values.min(initial=0) < 0:
        raise UserError(f"mask {path} holds values outside 0..255: expected class indices (and the ignore value)")
    return values.astype(np.uint8)


def _to_stored_labels(masks: np.ndarray, paths: list[Path], num_classes: int, ignore_index: int) -> np.ndarray:
    """Check every value is a class index or `ignore_index`, and store the latter as IGNORE_MASK."""
    ignored = masks == ignore_index
    bad = (masks >= num_classes) & ~ignored
    if bad.any():
        first = int(np.argmax(bad.reshape(len(masks), -1).any(1)))
        value = int(masks[first][bad[first]][0])
        raise UserError(f"mask {paths[first]} holds value {value}: expected class indices 0..{num_classes - 1} "
                        f"or task.ignore_index {ignore_index}")
    if ignore_index != IGNORE_MASK:
        masks = np.where(ignored, IGNORE_MASK, masks).astype(np.uint8)
    return masks
