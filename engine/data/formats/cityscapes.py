"""Cityscapes gtFine: `leftImg8bit/<split>/<city>/*_leftImg8bit.png` + `gtFine/.../*_gtFine_labelIds.png`.

Label files hold Cityscapes label ids (0..33); the 19 evaluated classes get train ids 0..18 and every other
id is unlabelled, as in cityscapesScripts' `helpers/labels.py`. GTA5 labels use the same ids and tables.
"""

from __future__ import annotations

from pathlib import Path

from engine.core.errors import UserError
from engine.data.formats.base import (
    DATA_FORMATS,
    DataFormat,
    FormatOptions,
    MaskIndex,
    fixed_classes,
    sorted_files,
    table_of,
)
from engine.data.sources import FileImages, LabelFiles, MaskLabels

#: The 19 train classes in trainId order (cityscapesScripts labels.py).
CITYSCAPES_CLASSES = [
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic light",
    "traffic sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
]

#: Cityscapes label id -> train id for the 19 evaluated classes; every other id is unlabelled.
LABEL_ID_TO_TRAIN_ID = {
    7: 0,
    8: 1,
    11: 2,
    12: 3,
    13: 4,
    17: 5,
    19: 6,
    20: 7,
    21: 8,
    22: 9,
    23: 10,
    24: 11,
    25: 12,
    26: 13,
    27: 14,
    28: 15,
    31: 16,
    32: 17,
    33: 18,
}

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
SPLITS = ("train", "val")
LAYOUT = (
    "leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png and "
    "gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png"
)


def label_ids_to_train_ids(title: str) -> MaskLabels:
    """Cityscapes label ids -> the 19 train ids; any other value (void classes, other ids) is unlabelled."""
    return MaskLabels.mapping(LABEL_ID_TO_TRAIN_ID, f"{title} label ids (0..33, the 19 train classes mapped)")


def split_of(split: str | None) -> str:
    """The gtFine split to read; `test` is refused because its labels are not public (only void pixels), so
    scores on it would be meaningless."""
    split = split or "val"
    if split == "test":
        raise UserError(
            "Cityscapes test labels are not public (gtFine/test holds only void pixels): "
            "evaluate on split 'val' instead"
        )
    if split not in SPLITS:
        raise UserError(f"Cityscapes has no gtFine split '{split}': expected one of {', '.join(SPLITS)}")
    return split


def image_files(root: Path, split: str) -> list[Path]:
    """Every `*_leftImg8bit.png` of a split, sorted; UserError when the folders are missing or empty."""
    for folder in (root / "leftImg8bit" / split, root / "gtFine" / split):
        if not folder.is_dir():
            raise UserError(f"Cityscapes folder {folder} not found: expected {LAYOUT}")
    folder = root / "leftImg8bit" / split
    images = [p for p in sorted_files(folder, (".png",)) if p.name.endswith(IMAGE_SUFFIX)]
    if not images:
        raise UserError(f"Cityscapes folder {folder} holds no *{IMAGE_SUFFIX} images: expected {LAYOUT}")
    return images


def label_files(root: Path, split: str, images: list[Path]) -> list[Path]:
    """The labelIds file of each image (same city folder and stem); UserError naming the first one missing."""
    image_root, label_root = root / "leftImg8bit" / split, root / "gtFine" / split
    present = set(label_root.rglob(f"*{LABEL_SUFFIX}"))  # one listing instead of a stat per image
    labels = [
        label_root / p.parent.relative_to(image_root) / (p.name[: -len(IMAGE_SUFFIX)] + LABEL_SUFFIX)
        for p in images
    ]
    missing = [(image, label) for image, label in zip(images, labels) if label not in present]
    if missing:
        image, label = missing[0]
        raise UserError(
            f"Cityscapes label file {label} not found for image {image} ({len(missing)} of "
            f"{len(images)} images have none): expected {LAYOUT}"
        )
    return labels


class CityscapesFormat(DataFormat):
    name = "cityscapes"
    title = "Cityscapes"
    task = "segmentation"
    layout = LAYOUT
    default_test_split = "val"

    def detect(self, root: Path, split: str | None) -> bool:
        folders = [root / "leftImg8bit", root / "gtFine"] + ([root / "leftImg8bit" / split] if split else [])
        return all(folder.is_dir() for folder in folders)

    def classes(self, root: Path, options: FormatOptions) -> list[str]:
        return fixed_classes(self.title, CITYSCAPES_CLASSES, options)

    def read(self, root: Path, split: str | None, options: FormatOptions) -> MaskIndex:
        fixed_classes(self.title, CITYSCAPES_CLASSES, options)
        split = split_of(split)
        images = image_files(root, split)
        labels = label_files(root, split, images)
        masks = LabelFiles(table_of(root / "gtFine" / split, labels), label_ids_to_train_ids(self.title))
        return MaskIndex(FileImages(table_of(root / "leftImg8bit" / split, images)), masks)

    def summary(self, root: Path, options: FormatOptions) -> str:
        counts = {
            split: sum(1 for _ in (root / "leftImg8bit" / split).rglob(f"*{IMAGE_SUFFIX}"))
            for split in SPLITS
            if (root / "leftImg8bit" / split).is_dir()
        }
        if not counts:
            raise UserError(
                f"Cityscapes folder {root / 'leftImg8bit' / 'train'} not found: expected {LAYOUT}"
            )
        splits = " / ".join(f"{count:,} {split}" for split, count in counts.items())
        return f"{self.title}: {splits} images, {len(CITYSCAPES_CLASSES)} classes"


@DATA_FORMATS.register("cityscapes", "Segmentation: Cityscapes gtFine (leftImg8bit/ + gtFine/, 19 classes)")
def cityscapes() -> CityscapesFormat:
    return CityscapesFormat()
