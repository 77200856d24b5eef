"""COCO detection JSON: `annotations/instances_<split>.json` with the images in `<split>/` (or `images/<split>/`).

As COCO 2017 ships (`train2017`, `val2017`) and as YOLOX's COCODataset reads it. Boxes are [x, y, w, h] in
pixels; category ids are arbitrary and map to 0..K-1 in sorted id order, named by `categories`. Crowd
regions (`iscrowd: 1`) are left out, as the COCO evaluation ignores them; images without annotations stay,
as background. Read with the json module (pycocotools builds indexes the engine does not need).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.errors import UserError
from engine.data.formats.base import (
    DATA_FORMATS,
    BoxIndex,
    DataFormat,
    FormatOptions,
    select_classes,
    table_of,
)
from engine.data.formats.box_rows import BoxRows, checked_box, keep_classes
from engine.data.sources import FileImages

LAYOUT = "annotations/instances_<split>.json and the images in <split>/ or images/<split>/"
TITLE = "COCO"


def annotation_file(root: Path, split: str) -> Path:
    return root / "annotations" / f"instances_{split}.json"


def splits_present(root: Path) -> list[str]:
    """The splits that have an instances file, sorted."""
    folder = root / "annotations"
    if not folder.is_dir():
        return []
    names = (p.name for p in folder.iterdir())
    return sorted(
        n[len("instances_") : -len(".json")]
        for n in names
        if n.startswith("instances_") and n.endswith(".json")
    )


def resolve_split(root: Path, split: str | None) -> str:
    """The split to read; without one (a test set path): the only instances file, else val2017, else val."""
    if split is not None:
        return split
    present = splits_present(root)
    if len(present) == 1:
        return present[0]
    for name in ("val2017", "val"):
        if name in present:
            return name
    raise UserError(
        f"{root}: no split given and {len(present)} COCO annotation files "
        f"({', '.join(present) or 'none'}) in {root / 'annotations'}: set the test set's `split` ({LAYOUT})"
    )


def image_folder(root: Path, split: str) -> Path:
    for folder in (root / split, root / "images" / split):
        if folder.is_dir():
            return folder
    raise UserError(
        f"COCO image folder {root / split} (or {root / 'images' / split}) not found: expected {LAYOUT}"
    )


class CocoFile:
    """One parsed instances file, reduced to what the index needs: file names, flat boxes, category names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = _load_json(path)
        categories = _list_of(data, "categories", path)
        try:
            ids = sorted({int(c["id"]) for c in categories})
            by_id = {int(c["id"]): str(c["name"]) for c in categories}
        except (KeyError, TypeError, ValueError):
            raise UserError(
                f"{path}: every entry of 'categories' needs an integer 'id' and a 'name'"
            ) from None
        self.names = [by_id[i] for i in ids]
        label_of = {cat: i for i, cat in enumerate(ids)}
        images = _list_of(data, "images", path)
        try:
            self.file_names = [str(img["file_name"]) for img in images]
            position = {int(img["id"]): i for i, img in enumerate(images)}
            sizes = [(_number(img.get("width")), _number(img.get("height"))) for img in images]
        except (KeyError, TypeError, ValueError):
            raise UserError(
                f"{path}: every entry of 'images' needs an integer 'id' and a 'file_name'"
            ) from None
        per_image: list[list[tuple[tuple[float, float, float, float], int]]] = [[] for _ in images]
        for ann in _list_of(data, "annotations", path):
            where = f"{path}: annotation {ann.get('id', '?') if isinstance(ann, dict) else '?'}"
            row = _annotation(ann, where, position, label_of, sizes)
            if row is not None:
                per_image[row[0]].append(row[1:])
        rows = BoxRows()
        for boxes in per_image:
            rows.add((box for box, _ in boxes), (label for _, label in boxes))
        self.rows = rows


def _annotation(
    ann: Any,
    where: str,
    position: dict[int, int],
    label_of: dict[int, int],
    sizes: list[tuple[float | None, float | None]],
) -> tuple[int, tuple[float, float, float, float], int] | None:
    """(image position, box, label) of one annotation; None for a crowd region or an empty box."""
    try:
        if ann.get("iscrowd", 0):
            return None
        image, category, bbox = int(ann["image_id"]), int(ann["category_id"]), ann["bbox"]
        x, y, w, h = (float(v) for v in bbox)
    except (AttributeError, KeyError, TypeError, ValueError):
        raise UserError(f"{where}: expected image_id, category_id and bbox [x, y, width, height]") from None
    if image not in position:
        raise UserError(f"{where}: image_id {image} is not in 'images'")
    if category not in label_of:
        raise UserError(
            f"{where}: category_id {category} is not in 'categories' ({', '.join(map(str, label_of))})"
        )
    i = position[image]
    box = checked_box(x, y, x + w, y + h, *sizes[i], where)
    return None if box is None else (i, box, label_of[category])


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"COCO annotation file {path} not found: expected {LAYOUT}")
    try:
        with open(path, "rb") as stream:
            data = json.load(stream)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not readable as JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a COCO object with 'images', 'annotations' and 'categories'")
    return data


def _list_of(data: dict, key: str, path: Path) -> list:
    value = data.get(key, [] if key == "annotations" else None)
    if not isinstance(value, list):
        raise UserError(f"{path}: expected a list '{key}' (COCO instances format)")
    return value


@lru_cache(maxsize=2)
def _parsed(path: str, mtime_ns: int, size: int) -> CocoFile:
    return CocoFile(Path(path))


def coco_file(path: Path) -> CocoFile:
    """The parsed file, parsed once while it is unchanged (classes and read both need it; train2017 takes ~20 s)."""
    try:
        st = path.stat()
    except OSError:
        raise UserError(f"COCO annotation file {path} not found: expected {LAYOUT}") from None
    return _parsed(str(path), st.st_mtime_ns, st.st_size)


def image_paths(folder: Path, names: list[str], path: Path) -> list[Path]:
    """Each image's path; UserError naming the first one missing (one listing, not a stat per image)."""
    present = set(os.listdir(folder))
    missing = [n for n in names if n not in present and not (folder / n).is_file()]
    if missing:
        raise UserError(
            f"COCO image {folder / missing[0]} listed in {path} not found ({len(missing)} of {len(names)} missing)"
        )
    return [folder / n for n in names]


class CocoFormat(DataFormat):
    name = "coco"
    title = TITLE
    task = "detection"
    layout = LAYOUT
    default_test_split = None  # a test set folder with one instances file needs no split

    def detect(self, root: Path, split: str | None) -> bool:
        if split is None:
            return bool(splits_present(root))
        return annotation_file(root, split).is_file()

    def classes(self, root: Path, options: FormatOptions) -> list[str]:
        """The categories (sorted by id), or task.classes when it picks some of them."""
        present = splits_present(root)
        split = (
            options.train_split if options.train_split in present else (present or [options.train_split])[0]
        )
        names = coco_file(annotation_file(root, split)).names
        select_classes(
            np.zeros(0, np.int64), names, options.classes, TITLE
        )  # ConfigError for a name it lacks
        return list(options.classes) if options.classes is not None else names

    def read(self, root: Path, split: str | None, options: FormatOptions) -> BoxIndex:
        split = resolve_split(root, split)
        path = annotation_file(root, split)
        parsed = coco_file(path)
        folder = image_folder(root, split)
        images = FileImages(table_of(folder, image_paths(folder, parsed.file_names, path)))
        return keep_classes(
            parsed.rows.index(images), parsed.names, options.classes, f"{TITLE} ({path.name})"
        )

    def summary(self, root: Path, options: FormatOptions) -> str:
        present = splits_present(root)
        if not present:
            raise UserError(
                f"COCO annotation folder {root / 'annotations'} holds no instances_<split>.json: {LAYOUT}"
            )
        parts = []
        for split in present:
            parsed = coco_file(annotation_file(root, split))
            parts.append(f"{len(parsed.file_names):,} {split}")
        names = coco_file(annotation_file(root, present[0])).names
        return f"{TITLE}: {' / '.join(parts)} images, {len(names)} classes"


@DATA_FORMATS.register("coco", "Detection: COCO JSON (annotations/instances_<split>.json + <split>/ images)")
def coco() -> CocoFormat:
    return CocoFormat()
