"""Pascal VOC detection: `JPEGImages/<id>.jpg`, `Annotations/<id>.xml`, `ImageSets/Main/<split>.txt`.

`root` may hold VOCdevkit/VOC2012 (or VOC2007), be VOCdevkit, or be the VOC folder itself (a data set
labelled in the VOC layout, e.g. with LabelImg). Objects marked `difficult` are left out, as the VOC
evaluation ignores them. VOC pixel coordinates are 1-based: xmin and ymin get 1 subtracted (detectron2's
reader does the same), so a box over the whole image is 0, 0, W, H. The classes are the 20 VOC classes in
the devkit's order; task.classes may pick some of them, or name the classes of a custom data set in the
VOC layout (objects of other names are then left out).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from engine.core.errors import ConfigError, UserError, did_you_mean
from engine.data.formats.base import DATA_FORMATS, BoxIndex, DataFormat, FormatOptions, table_of
from engine.data.formats.box_rows import BoxRows, checked_box, keep_classes
from engine.data.formats.voc import VOC_CLASSES
from engine.data.sources import FileImages

#: The 20 object classes in the VOC devkit's order (no background: detection indices start at the first).
VOC_DET_CLASSES = VOC_CLASSES[1:]
SPLITS_DIR = Path("ImageSets") / "Main"
LAYOUT = "JPEGImages/<id>.jpg, Annotations/<id>.xml and ImageSets/Main/<split>.txt (in VOCdevkit/VOC2012 or VOC2007)"
TITLE = "Pascal VOC detection"
_CANDIDATES = ("", "VOCdevkit/VOC2012", "VOCdevkit/VOC2007", "VOC2012", "VOC2007")


def voc_folders(root: Path) -> list[Path]:
    """Folders under `root` holding Annotations/ and JPEGImages/, most likely first."""
    found = [root / sub for sub in _CANDIDATES]
    return [f for f in found if (f / "Annotations").is_dir() and (f / "JPEGImages").is_dir()]


def voc_folder(root: Path, split: str | None) -> Path | None:
    """The VOC folder to read: the first holding the split's file (or the first at all without a split)."""
    folders = voc_folders(root)
    if split is not None:
        folders = [f for f in folders if (f / SPLITS_DIR / f"{split}.txt").is_file()]
    return folders[0] if folders else None


def split_ids(folder: Path, split: str) -> list[str]:
    path = folder / SPLITS_DIR / f"{split}.txt"
    if not path.is_file():
        present = sorted(p.stem for p in (folder / SPLITS_DIR).glob("*.txt") if "_" not in p.stem)
        raise UserError(
            f"Pascal VOC split file {path} not found; split files present: {', '.join(present) or 'none'} "
            f"(expected {LAYOUT})"
        )
    ids = [line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not ids:
        raise UserError(f"Pascal VOC split file {path} lists no image ids: expected one id per line")
    return ids


def read_objects(
    path: Path,
) -> tuple[list[tuple[str, tuple[float, float, float, float]]], float | None, float | None]:
    """(name, (x1, y1, x2, y2) 0-based) of each object not marked difficult, and the image width and height.

    Raises:
        UserError: naming the file: missing, not XML, an object without a name or bndbox, a reversed box.
    """
    try:
        data = path.read_bytes()
    except OSError:
        raise UserError(f"Pascal VOC annotation {path} not found: expected {LAYOUT}") from None
    if b"<!ENTITY" in data:  # annotation files never declare entities; expanding them can exhaust memory
        raise UserError(f"{path}: XML entity declarations are not accepted in an annotation file")
    try:
        tree = ET.fromstring(data)
    except ET.ParseError as exc:
        raise UserError(f"{path}: not well-formed XML ({exc})") from None
    width, height = _number(tree.findtext("size/width")), _number(tree.findtext("size/height"))
    objects = []
    for number, obj in enumerate(tree.iter("object"), 1):
        where = f"{path}: object {number}"
        name = (obj.findtext("name") or "").strip()
        if (obj.findtext("difficult") or "0").strip() in ("1", "1.0", "true"):
            continue
        try:
            x1, y1, x2, y2 = (
                float(obj.findtext(f"bndbox/{k}") or "") for k in ("xmin", "ymin", "xmax", "ymax")
            )
        except ValueError:
            raise UserError(f"{where}: expected <bndbox> with numeric xmin, ymin, xmax, ymax") from None
        if not name:
            raise UserError(f"{where}: has no <name>")
        box = checked_box(x1 - 1, y1 - 1, x2, y2, width, height, where)
        if box is not None:
            objects.append((name, box))
    return objects, width, height


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else 0.0
    except ValueError:
        return None
    return value if value > 0 else None


class VocDetFormat(DataFormat):
    name = "voc_det"
    title = TITLE
    task = "detection"
    layout = LAYOUT
    default_test_split = "val"

    def detect(self, root: Path, split: str | None) -> bool:
        return voc_folder(root, split) is not None

    def classes(self, root: Path, options: FormatOptions) -> list[str]:
        return list(options.classes) if options.classes is not None else list(VOC_DET_CLASSES)

    def read(self, root: Path, split: str | None, options: FormatOptions) -> BoxIndex:
        split = split or self.default_test_split or "val"
        folder = voc_folder(root, split) or self._folder(root)
        ids = split_ids(folder, split)
        custom = options.classes is not None and not set(options.classes) <= set(VOC_DET_CLASSES)
        names = list(options.classes) if custom and options.classes is not None else VOC_DET_CLASSES
        position = {name: i for i, name in enumerate(names)}
        rows, seen = BoxRows(), set()
        for image_id in ids:
            path = folder / "Annotations" / f"{image_id}.xml"
            objects, _, _ = read_objects(path)
            kept = []
            for name, box in objects:
                seen.add(name)
                if name in position:
                    kept.append((box, position[name]))
                elif options.classes is None:
                    raise UserError(
                        f"{path}: object class '{name}' is not one of the 20 VOC classes{did_you_mean(name, names)}; "
                        f"for a data set of other classes list them in task.classes"
                    )
            rows.add((box for box, _ in kept), (label for _, label in kept))
        if custom:
            absent = [n for n in names if n not in seen]
            if absent:
                raise ConfigError(
                    "task.classes",
                    f"'{absent[0]}' occurs in no annotation of {folder / SPLITS_DIR / split}.txt"
                    f"{did_you_mean(absent[0], seen)}; classes found: {', '.join(sorted(seen))}",
                )
        index = rows.index(FileImages(table_of(folder / "JPEGImages", image_files(folder, split, ids))))
        return keep_classes(index, names, None if custom else options.classes, TITLE)

    def summary(self, root: Path, options: FormatOptions) -> str:
        folder = self._folder(root)
        counts = {
            split: len(split_ids(folder, split))
            for split in ("train", "val", "trainval", "test")
            if (folder / SPLITS_DIR / f"{split}.txt").is_file()
        }
        splits = " / ".join(f"{count:,} {split}" for split, count in counts.items()) or "no split files"
        return f"{TITLE} ({folder.name}): {splits} images, {len(self.classes(root, options))} classes"

    def _folder(self, root: Path) -> Path:
        folder = voc_folder(root, None)
        if folder is None:
            raise UserError(f"Pascal VOC folder not found under {root}: expected {LAYOUT}")
        return folder


def image_files(folder: Path, split: str, ids: list[str]) -> list[Path]:
    present = set(os.listdir(folder / "JPEGImages"))
    absent = [image_id for image_id in ids if f"{image_id}.jpg" not in present]
    if absent:
        raise UserError(
            f"Pascal VOC image {folder / 'JPEGImages' / absent[0]}.jpg of split '{split}' not found "
            f"({len(absent)} missing): expected {LAYOUT}"
        )
    return [folder / "JPEGImages" / f"{image_id}.jpg" for image_id in ids]


@DATA_FORMATS.register("voc_det", "Detection: Pascal VOC XML (JPEGImages/ + Annotations/ + ImageSets/Main/)")
def voc_det() -> VocDetFormat:
    return VocDetFormat()
