"""Load classification folders in the ImageFolder layout (`<split>/<class_name>/*.jpg`) as uint8 arrays, cached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.vpr_folders import IMAGE_SUFFIXES, load_images
from engine.errors import UserError

LAYOUT = "expected one sub-folder per class holding its images (<split>/<class_name>/*.jpg)"


@dataclass
class LabelledImages:
    """Images (N, 3, H, W) uint8 and their class indices (N,) int64."""

    images: np.ndarray
    labels: np.ndarray


def class_folders(folder: str | Path) -> list[str]:
    """Names of the class sub-folders of a split, sorted (torchvision's ImageFolder order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"classification folder {folder} not found: {LAYOUT}")
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise UserError(f"classification folder {folder} has no class sub-folders: {LAYOUT}")
    return names


def load_image_folder(folder: str | Path, image_size: tuple[int, int], classes: list[str],
                      skip_unlisted: bool = False) -> LabelledImages:
    """Every image under `folder/<class>/`, resized to `image_size` (H, W), labelled by its class's index.

    Args:
        skip_unlisted: Leave out class folders not in `classes` (training on a chosen subset); otherwise
            they are an error (a test set must not hold classes the model never learnt).

    Raises:
        UserError: a missing folder, an unlisted class folder, or no images at all.
    """
    folder = Path(folder)
    index = {name: i for i, name in enumerate(classes)}
    paths, labels = [], []
    for name in class_folders(folder):
        if name not in index and skip_unlisted:
            continue
        if name not in index:
            raise UserError(f"classification folder {folder} has a class folder '{name}' that is not a training "
                            f"class; classes: {', '.join(classes)}")
        found = sorted(p for p in (folder / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += found
        labels += [index[name]] * len(found)
    if not paths:
        raise UserError(f"classification folder {folder} holds no images: {LAYOUT}")
    return LabelledImages(load_images(paths, image_size, folder), np.asarray(labels, dtype=np.int64))
