"""GTA5 ("Playing for Data"): `images/NNNNN.png` with `labels/NNNNN.png`, palette PNGs of Cityscapes ids.

The palette indices are Cityscapes label ids, mapped to the same 19 train ids. Split "train" is every image
(as AdaptSegNet and DAFormer train); "val" and "test" come from the official `split.mat` (valIds / testIds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.core.errors import UserError
from engine.data.formats.base import (
    DATA_FORMATS,
    DataFormat,
    FormatOptions,
    MaskIndex,
    fixed_classes,
    table_of,
)
from engine.data.formats.cityscapes import CITYSCAPES_CLASSES, label_ids_to_train_ids
from engine.data.sources import FileImages, LabelFiles

LAYOUT = "images/NNNNN.png and labels/NNNNN.png (palette PNGs of Cityscapes label ids, same names)"
SPLIT_FILE = "split.mat"
SPLIT_KEYS = {"val": "valIds", "test": "testIds"}  # split.mat holds 1-based image numbers


def png_names(folder: Path) -> dict[str, Path]:
    """File name -> path of the PNGs directly in `folder` (hidden files skipped)."""
    return {p.name: p for p in folder.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith(".")}


def split_ids(root: Path, split: str) -> list[int]:
    """The image numbers of `split` in split.mat; UserError when the file, or its key, is not there."""
    path = root / SPLIT_FILE
    if split not in SPLIT_KEYS:
        raise UserError(
            f"GTA5 has no split '{split}': expected train (every image), or val or test ({SPLIT_FILE})"
        )
    if not path.is_file():
        raise UserError(
            f"GTA5 split file {path} not found: split '{split}' needs the official {SPLIT_FILE} "
            f"(valIds / testIds) next to images/ and labels/"
        )
    from scipy.io import loadmat  # only val/test reads need scipy

    try:
        ids = loadmat(str(path))[SPLIT_KEYS[split]]
    except KeyError:
        raise UserError(
            f"GTA5 split file {path} has no '{SPLIT_KEYS[split]}': expected the official "
            f"{SPLIT_FILE} with trainIds, valIds and testIds"
        ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"GTA5 split file {path} is not readable as a MATLAB file ({exc})") from None
    return [int(i) for i in np.asarray(ids).reshape(-1)]


def paired_files(root: Path, split: str) -> tuple[list[Path], list[Path]]:
    """Image and label paths of a split, matched by file name, in name order; UserError naming an unpaired
    image. Label files without an image are left out: DAFormer's converter writes `NNNNN_labelTrainIds.png`
    there too.
    """
    for sub in ("images", "labels"):
        if not (root / sub).is_dir():
            raise UserError(f"GTA5 folder {root / sub} not found: expected {LAYOUT}")
    images, labels = png_names(root / "images"), png_names(root / "labels")
    if not images:
        raise UserError(f"GTA5 folder {root / 'images'} holds no PNG images: expected {LAYOUT}")
    names = sorted(images) if split == "train" else [f"{i:05d}.png" for i in split_ids(root, split)]
    absent = [name for name in names if name not in images]
    if absent:
        raise UserError(
            f"GTA5 image {root / 'images' / absent[0]} of split '{split}' ({SPLIT_FILE}) not "
            f"found ({len(absent)} missing): expected {LAYOUT}"
        )
    unlabelled = [name for name in names if name not in labels]
    if unlabelled:
        raise UserError(
            f"GTA5 label file {root / 'labels' / unlabelled[0]} not found for image "
            f"{images[unlabelled[0]]} ({len(unlabelled)} of {len(names)} images have none): "
            f"expected {LAYOUT}"
        )
    return [images[n] for n in names], [labels[n] for n in names]


class Gta5Format(DataFormat):
    name = "gta5"
    title = "GTA5"
    task = "segmentation"
    layout = LAYOUT
    default_test_split = "val"

    def detect(self, root: Path, split: str | None) -> bool:
        """images/ holding a PNG, and labels/ (not the masks/ of segmentation folders); val and test also need
        split.mat."""
        if split not in (None, "train", *SPLIT_KEYS):
            return False
        if split in SPLIT_KEYS and not (root / SPLIT_FILE).is_file():
            return False
        images = root / "images"
        return (root / "labels").is_dir() and images.is_dir() and next(images.glob("*.png"), None) is not None

    def classes(self, root: Path, options: FormatOptions) -> list[str]:
        return fixed_classes(self.title, CITYSCAPES_CLASSES, options)

    def read(self, root: Path, split: str | None, options: FormatOptions) -> MaskIndex:
        fixed_classes(self.title, CITYSCAPES_CLASSES, options)
        images, labels = paired_files(root, split or self.default_test_split or "val")
        return MaskIndex(
            FileImages(table_of(root / "images", images)),
            LabelFiles(table_of(root / "labels", labels), label_ids_to_train_ids(self.title)),
        )

    def summary(self, root: Path, options: FormatOptions) -> str:
        if not (root / "images").is_dir():
            raise UserError(f"GTA5 folder {root / 'images'} not found: expected {LAYOUT}")
        count = len(png_names(root / "images"))
        splits = ""
        if (root / SPLIT_FILE).is_file():
            counts = " / ".join(f"{len(split_ids(root, split)):,} {split}" for split in SPLIT_KEYS)
            splits = f"; {counts} in {SPLIT_FILE}"
        return f"{self.title}: {count:,} images (train = all){splits}, {len(CITYSCAPES_CLASSES)} classes"


@DATA_FORMATS.register("gta5", "Segmentation: GTA5 (images/ + labels/ of Cityscapes label ids, 19 classes)")
def gta5() -> Gta5Format:
    return Gta5Format()
