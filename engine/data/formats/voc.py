"""Pascal VOC 2012 segmentation: `VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, ImageSets/Segmentation}`.

Masks are palette PNGs whose indices are the 21 classes (0 background .. 20 tvmonitor) and 255 on object
borders (unlabelled). Split "trainaug" (or "aug") reads the SBD-augmented set in mmsegmentation's converted
layout: `trainaug.txt`, masks from `SegmentationClassAug/` for the images VOC itself does not annotate.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.core.errors import UserError
from engine.data.formats.base import (
    DATA_FORMATS,
    DataFormat,
    FormatOptions,
    MaskIndex,
    fixed_classes,
    table_of,
)
from engine.data.sources import FileImages, LabelFiles, MaskLabels

VOC_CLASSES = [
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
]
BORDER = 255
SPLITS_DIR = Path("ImageSets") / "Segmentation"
AUG_SPLITS = ("trainaug", "aug")  # written by mmsegmentation's tools/dataset_converters/voc_aug.py
LAYOUT = (
    "VOCdevkit/VOC2012/ with JPEGImages/<id>.jpg, SegmentationClass/<id>.png and "
    "ImageSets/Segmentation/{train,val,trainval}.txt"
)


def voc_folder(root: Path) -> Path | None:
    """The VOC2012 folder: `root` may hold VOCdevkit/, be VOCdevkit/, or be VOC2012/ itself."""
    for folder in (root / "VOCdevkit" / "VOC2012", root / "VOC2012", root):
        if (folder / "JPEGImages").is_dir() and (folder / "SegmentationClass").is_dir():
            return folder
    return None


def split_ids(folder: Path, split: str) -> list[str]:
    """Image ids of a split file, in file order; UserError naming the file and the split files present."""
    path = folder / SPLITS_DIR / f"{split}.txt"
    if not path.is_file():
        present = sorted(p.stem for p in (folder / SPLITS_DIR).glob("*.txt"))
        raise UserError(
            f"Pascal VOC split file {path} not found; split files present: "
            f"{', '.join(present) or 'none'} (expected {LAYOUT})"
        )
    ids = [line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not ids:
        raise UserError(f"Pascal VOC split file {path} lists no image ids: expected one id per line")
    return ids


def mask_files(folder: Path, split: str, ids: list[str]) -> list[Path]:
    """Each id's class mask. Augmented splits take VOC's own mask when there is one (its borders are marked,
    and mmsegmentation's train + aug config reads it so) and SBD's converted one otherwise."""
    subs = ["SegmentationClass"] + (["SegmentationClassAug"] if split in AUG_SPLITS else [])
    present = {sub: set(os.listdir(folder / sub)) if (folder / sub).is_dir() else set() for sub in subs}
    masks = []
    for image_id in ids:
        name = f"{image_id}.png"
        found = next((sub for sub in subs if name in present[sub]), None)
        if found is None:
            where = " or ".join(str(folder / sub / name) for sub in subs)
            raise UserError(
                f"Pascal VOC mask {where} not found for id {image_id} of split '{split}': expected {LAYOUT}"
            )
        masks.append(folder / found / name)
    return masks


def image_files(folder: Path, split: str, ids: list[str]) -> list[Path]:
    """Each id's JPEG; UserError naming the first one missing."""
    present = set(os.listdir(folder / "JPEGImages"))
    absent = [image_id for image_id in ids if f"{image_id}.jpg" not in present]
    if absent:
        raise UserError(
            f"Pascal VOC image {folder / 'JPEGImages' / absent[0]}.jpg of split '{split}' not "
            f"found ({len(absent)} missing): expected {LAYOUT}"
        )
    return [folder / "JPEGImages" / f"{image_id}.jpg" for image_id in ids]


def class_indices() -> MaskLabels:
    """Indices 0..20 are classes, 255 the unlabelled border; any other value is an error naming the file."""
    indices = MaskLabels.indices(len(VOC_CLASSES), BORDER)
    expected = f"VOC class indices 0..{len(VOC_CLASSES) - 1} or {BORDER} (border)"
    return MaskLabels(indices.lut, indices.allowed, expected)


class VocFormat(DataFormat):
    name = "voc"
    title = "Pascal VOC 2012"
    task = "segmentation"
    layout = LAYOUT
    default_test_split = "val"

    def detect(self, root: Path, split: str | None) -> bool:
        folder = voc_folder(root)
        return folder is not None and (split is None or (folder / SPLITS_DIR / f"{split}.txt").is_file())

    def classes(self, root: Path, options: FormatOptions) -> list[str]:
        return fixed_classes(self.title, VOC_CLASSES, options)

    def read(self, root: Path, split: str | None, options: FormatOptions) -> MaskIndex:
        fixed_classes(self.title, VOC_CLASSES, options)
        folder = self._folder(root)
        split = split or self.default_test_split or "val"
        ids = split_ids(folder, split)
        images, masks = image_files(folder, split, ids), mask_files(folder, split, ids)
        return MaskIndex(
            FileImages(table_of(folder / "JPEGImages", images)),
            LabelFiles(table_of(folder, masks), class_indices()),
        )

    def summary(self, root: Path, options: FormatOptions) -> str:
        folder = self._folder(root)
        counts = {
            split: len(split_ids(folder, split))
            for split in ("train", "val", "trainaug")
            if (folder / SPLITS_DIR / f"{split}.txt").is_file()
        }
        if not counts:
            return f"{self.title}: no split files in {folder / SPLITS_DIR}, {len(VOC_CLASSES)} classes"
        splits = " / ".join(f"{count:,} {split}" for split, count in counts.items())
        return f"{self.title}: {splits} images, {len(VOC_CLASSES)} classes"

    def _folder(self, root: Path) -> Path:
        folder = voc_folder(root)
        if folder is None:
            raise UserError(
                f"Pascal VOC folder {root / 'VOCdevkit' / 'VOC2012'} not found (nor is {root} "
                f"itself a VOCdevkit or VOC2012 folder): expected {LAYOUT}"
            )
        return folder


@DATA_FORMATS.register("voc", "Segmentation: Pascal VOC 2012 (VOCdevkit/VOC2012, 21 classes, 255 border)")
def voc() -> VocFormat:
    return VocFormat()
