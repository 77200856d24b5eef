"""Segmentation folders: `<split>/images/*.{jpg,png}` with `<split>/masks/*.png` of class indices, paired by stem.

Class names come from task.classes or `data.root/classes.json` (a JSON list in index order).
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.core.errors import ConfigError, UserError
from engine.data.decode import IMAGE_SUFFIXES
from engine.data.formats.base import DATA_FORMATS, DataFormat, FormatOptions, MaskIndex, table_of
from engine.data.sources import FileImages, LabelFiles, MaskLabels

LAYOUT = "expected images/ (*.jpg or *.png) and masks/ (*.png, one per image, same name)"


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
        raise UserError(f'{path}: expected a JSON list of class names in index order, e.g. ["road", "sky"]')
    return names


def check_ignore_index(ignore_index: int, num_classes: int) -> None:
    """The ignore value must fit a mask pixel and must not be a class index."""
    if (
        not isinstance(ignore_index, int)
        or isinstance(ignore_index, bool)
        or not num_classes <= ignore_index <= 255
    ):
        raise ConfigError(
            "task.ignore_index",
            f"must be an integer in [{num_classes}, 255] (the mask value of "
            f"unlabelled pixels, not a class index), got {ignore_index!r}",
        )


def paired_files(folder: Path) -> tuple[list[Path], list[Path]]:
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
        what = (
            f"mask {masks[stem].name} has no image"
            if stem in masks
            else f"image {images[stem].name} has no mask"
        )
        raise UserError(
            f"segmentation folder {folder}: {len(unpaired)} unpaired file(s), e.g. {what} ({LAYOUT})"
        )
    stems = sorted(images)
    return [images[s] for s in stems], [masks[s] for s in stems]


class SegFoldersFormat(DataFormat):
    name = "seg_folders"
    title = "segmentation folders"
    task = "segmentation"
    layout = "images/ and masks/ in each split folder (a PNG of class indices per image, same name)"

    def detect(self, root: Path, split: str | None) -> bool:
        folder = root / split if split else root
        return (folder / "images").is_dir() and (folder / "masks").is_dir()

    def classes(self, root: Path, options: FormatOptions) -> list[str] | None:
        return options.classes if options.classes is not None else read_classes_json(root)

    def read(self, root: Path, split: str | None, options: FormatOptions) -> MaskIndex:
        folder = root / split if split else root
        images, masks = paired_files(folder)
        num_classes = len(options.classes or [])
        check_ignore_index(options.ignore_index, num_classes)
        labels = MaskLabels.indices(num_classes, options.ignore_index)
        return MaskIndex(
            FileImages(table_of(folder / "images", images)),
            LabelFiles(table_of(folder / "masks", masks), labels),
        )


@DATA_FORMATS.register("seg_folders", "Segmentation: <split>/images + <split>/masks (PNG of class indices)")
def seg_folders() -> SegFoldersFormat:
    return SegFoldersFormat()
