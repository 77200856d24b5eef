"""YOLO txt labels in the Ultralytics layout: `images/<split>/*.jpg` with `labels/<split>/*.txt`.

A label file has one line `class cx cy w h` per box, normalised to [0, 1] by the image's width and height
(or `class x1 y1 x2 y2 ...`, a polygon of a segmentation label, whose extent is the box, as Ultralytics
reads it); an image without a label file, or with an empty one, is background. Class names come from
`data.yaml` (`names:` a list, or a dict of index -> name) or `classes.txt` (one per line), else from
task.classes. Boxes are turned into pixels at index time with the size from each image's header (reading
the headers of 100k JPEGs takes seconds), so the index holds pixel boxes like the other formats.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import yaml

from engine.core.errors import UserError
from engine.data.decode import IMAGE_SUFFIXES, image_size_of
from engine.data.formats.base import (
    DATA_FORMATS,
    BoxIndex,
    DataFormat,
    FormatOptions,
    select_classes,
    sorted_files,
    table_of,
)
from engine.data.formats.box_rows import BoxRows, checked_box, keep_classes
from engine.data.sources import FileImages

LAYOUT = "images/<split>/*.jpg and labels/<split>/*.txt (class cx cy w h, normalised), names in data.yaml"
TITLE = "YOLO"
_SLACK = 1e-3  # exporters round normalised coordinates; a box edge at 1.0004 is the image edge


def class_names(root: Path) -> list[str] | None:
    """Names from root/data.yaml (`names:` list or {index: name}) or root/classes.txt; None when neither is there.

    Raises:
        UserError: a file that is there but unreadable, naming it.
    """
    for name in ("data.yaml", "data.yml"):
        path = root / name
        if path.is_file():
            return _yaml_names(path)
    path = root / "classes.txt"
    if path.is_file():
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not names:
            raise UserError(f"{path}: lists no class names (expected one name per line, in index order)")
        return names
    return None


def _yaml_names(path: Path) -> list[str]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: not readable as YAML ({str(exc).splitlines()[0]})") from None
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, dict):
        try:
            by_index = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            by_index = {}
        if sorted(by_index) == list(range(len(by_index))) and by_index:
            return [by_index[i] for i in range(len(by_index))]
    elif isinstance(names, list) and names:
        return [str(n) for n in names]
    raise UserError(
        f"{path}: expected `names:` as a list of class names or a mapping 0: name, 1: name, ... (Ultralytics data.yaml)"
    )


def parse_label_file(path: Path, num_classes: int) -> list[tuple[int, float, float, float, float]]:
    """(class, x1, y1, x2, y2) normalised, per line of a label file.

    Raises:
        UserError: naming the file and line: not numbers, a class out of range, a coordinate outside [0, 1].
    """
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"YOLO label file {path} is not readable ({exc})") from None
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{number}"
        try:
            values = [float(v) for v in fields]
        except ValueError:
            raise UserError(
                f"{where}: expected numbers 'class cx cy w h', got {line.strip()[:60]!r}"
            ) from None
        if len(values) == 5:
            cls, cx, cy, w, h = values
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            coords = [cx, cy, w, h]
        elif len(values) >= 7 and len(values) % 2 == 1:
            cls, coords = values[0], values[1:]
            x1, x2, y1, y2 = min(coords[0::2]), max(coords[0::2]), min(coords[1::2]), max(coords[1::2])
        else:
            raise UserError(
                f"{where}: {len(values)} numbers; expected 'class cx cy w h' (5) or a polygon 'class x1 y1 x2 y2 ...'"
            )
        if not (cls.is_integer() and 0 <= cls < num_classes):
            raise UserError(
                f"{where}: class {fields[0]} is not an index 0..{num_classes - 1} of the {num_classes} classes"
            )
        if not all(math.isfinite(v) and -_SLACK <= v <= 1 + _SLACK for v in coords):
            raise UserError(
                f"{where}: coordinates must be normalised to [0, 1] by the image size, got {line.strip()[:60]!r}"
            )
        rows.append((int(cls), x1, y1, x2, y2))
    return rows


class YoloFormat(DataFormat):
    name = "yolo"
    title = TITLE
    task = "detection"
    layout = LAYOUT
    default_test_split = "val"

    def detect(self, root: Path, split: str | None) -> bool:
        images = root / "images" / split if split else root / "images"
        return images.is_dir() and (root / "labels").is_dir()

    def classes(self, root: Path, options: FormatOptions) -> list[str] | None:
        names = class_names(root)
        if names is None or options.classes is None:
            return options.classes if options.classes is not None else names
        select_classes(
            np.zeros(0, np.int64), names, options.classes, TITLE
        )  # ConfigError for a name it lacks
        return list(options.classes)

    def read(self, root: Path, split: str | None, options: FormatOptions) -> BoxIndex:
        split = split or self.default_test_split or "val"
        image_root, label_root = root / "images" / split, root / "labels" / split
        if not image_root.is_dir():
            raise UserError(f"YOLO image folder {image_root} not found: expected {LAYOUT}")
        published = class_names(root)
        names = published if published is not None else options.classes
        if names is None:
            raise UserError(
                f"{root}: no class names: expected data.yaml with `names:`, classes.txt, or task.classes in the config"
            )
        images = sorted_files(image_root, IMAGE_SUFFIXES)
        labelled = set(label_root.rglob("*.txt")) if label_root.is_dir() else set()
        rows = BoxRows()
        for image in images:
            label = label_root / image.relative_to(image_root).with_suffix(".txt")
            lines = parse_label_file(label, len(names)) if label in labelled else []
            if not lines:
                rows.add((), ())
                continue
            height, width = image_size_of(image)
            boxes, labels = [], []
            for cls, x1, y1, x2, y2 in lines:
                box = checked_box(x1 * width, y1 * height, x2 * width, y2 * height, width, height, str(label))
                if box is not None:
                    boxes.append(box)
                    labels.append(cls)
            rows.add(boxes, labels)
        index = rows.index(FileImages(table_of(image_root, images)))
        return keep_classes(index, names, options.classes if published is not None else None, TITLE)

    def summary(self, root: Path, options: FormatOptions) -> str:
        folder = root / "images"
        if not folder.is_dir():
            raise UserError(f"YOLO image folder {folder} not found: expected {LAYOUT}")
        splits = sorted(p.name for p in folder.iterdir() if p.is_dir())
        counts = " / ".join(f"{len(sorted_files(folder / s, IMAGE_SUFFIXES)):,} {s}" for s in splits)
        names = class_names(root)
        classes = f"{len(names)} classes" if names else "class names from task.classes"
        return f"{TITLE}: {counts} images, {classes}"


@DATA_FORMATS.register(
    "yolo", "Detection: YOLO txt (images/<split>/ + labels/<split>/*.txt, data.yaml names)"
)
def yolo() -> YoloFormat:
    return YoloFormat()
