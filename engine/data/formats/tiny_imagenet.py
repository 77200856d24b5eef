"""Tiny-ImageNet-200 (cs231n): train/<wnid>/images/*.JPEG, val/images plus val/val_annotations.txt.

Images are 64×64 JPEGs (a few are grayscale; FileImages converts them to RGB).

Class order is the sorted wnids, which is torchvision ImageFolder's order on train/ and what most loaders use
(wnids.txt itself is not sorted). Class names are the first lemma of each wnid's words.txt line.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from engine.core.errors import UserError
from engine.data.decode import IMAGE_SUFFIXES
from engine.data.formats.base import (
    DATA_FORMATS,
    DataFormat,
    FormatOptions,
    LabelIndex,
    select_classes,
    sorted_files,
    table_of,
)
from engine.data.sources import FileImages

FOLDER = "tiny-imagenet-200"
ANNOTATIONS = "val_annotations.txt"
LAYOUT = (
    f"{FOLDER}/ (or its parent) holding wnids.txt, words.txt, train/<wnid>/images/*.JPEG, "
    f"val/images/*.JPEG and val/{ANNOTATIONS}"
)
SPLITS = ("train", "val")

Items = tuple[list[Path], list[str]]  # image paths and the wnid of each


def data_folder(root: Path) -> Path | None:
    """`root` when it is the extracted folder, `root/tiny-imagenet-200` when it is the parent, else None."""
    for folder in (root, root / FOLDER):
        if (folder / "wnids.txt").is_file():
            return folder
    return None


def required_folder(root: Path) -> Path:
    folder = data_folder(root)
    if folder is None:
        raise UserError(f"Tiny-ImageNet file {root / 'wnids.txt'} not found: expected {LAYOUT}")
    return folder


def read_lines(path: Path) -> list[str]:
    """Non-empty lines of a text file, stripped; UserError naming the file when it is missing."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"Tiny-ImageNet file {path} not found: expected {LAYOUT}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Tiny-ImageNet file {path} is not readable text ({exc})") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def sorted_wnids(folder: Path) -> list[str]:
    """The class wnids in label order: sorted (ImageFolder order), not wnids.txt's own order."""
    wnids = sorted(set(read_lines(folder / "wnids.txt")))
    if not wnids:
        raise UserError(f"Tiny-ImageNet file {folder / 'wnids.txt'} is empty: expected one wnid per line")
    return wnids


def class_names(folder: Path, wnids: list[str]) -> list[str]:
    """The first lemma of each wnid in words.txt (the wnid itself when it has no line there); a lemma shared
    by two classes gets the wnid appended, so that names stay distinct."""
    wanted = set(wnids)
    lemma: dict[str, str] = {}
    for line in read_lines(folder / "words.txt"):  # every ImageNet synset, not only these classes
        wnid, _, lemmas = line.partition("\t")
        if wnid in wanted:
            lemma[wnid] = lemmas.split(",")[0].strip() or wnid
    names = [lemma.get(wnid, wnid) for wnid in wnids]
    shared = {name for name, count in Counter(names).items() if count > 1}
    return [f"{name} ({wnid})" if name in shared else name for name, wnid in zip(names, wnids)]


def train_items(folder: Path, wnids: list[str]) -> Items:
    paths: list[Path] = []
    labels: list[str] = []
    for wnid in wnids:
        images = folder / "train" / wnid / "images"
        if not images.is_dir():
            raise UserError(f"Tiny-ImageNet folder {images} not found: expected {LAYOUT}")
        found = sorted_files(images, IMAGE_SUFFIXES, recursive=False)
        if not found:
            raise UserError(f"Tiny-ImageNet folder {images} holds no images: expected {LAYOUT}")
        paths += found
        labels += [wnid] * len(found)
    return paths, labels


def val_items(folder: Path, wnids: list[str]) -> Items:
    """The images listed in val_annotations.txt (filename, wnid, x0, y0, x1, y1; tab-separated), in order."""
    annotations, images = folder / "val" / ANNOTATIONS, folder / "val" / "images"
    rows = read_lines(annotations)
    if not images.is_dir():
        raise UserError(f"Tiny-ImageNet folder {images} not found: expected {LAYOUT}")
    on_disk = {p.name for p in images.iterdir()}  # one listing instead of a stat per annotation
    known = set(wnids)
    paths: list[Path] = []
    labels: list[str] = []
    for number, row in enumerate(rows, 1):
        fields = row.split("\t")
        if len(fields) < 2:
            raise UserError(
                f"{annotations} line {number}: expected filename<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1"
            )
        name, wnid = fields[0], fields[1]
        if wnid not in known:
            raise UserError(f"{annotations} line {number} names wnid {wnid}, which is not in wnids.txt")
        if name not in on_disk:
            raise UserError(f"Tiny-ImageNet val image {images / name} (listed in {ANNOTATIONS}) not found")
        paths.append(images / name)
        labels.append(wnid)
    return paths, labels


class TinyImageNetFormat(DataFormat):
    name = "tiny_imagenet"
    title = "Tiny-ImageNet"
    task = "classification"
    layout = LAYOUT
    default_test_split = "val"

    def detect(self, root: Path, split: str | None) -> bool:
        folder = data_folder(root)
        if folder is None or not (folder / "words.txt").is_file():
            return False
        # other split names still match, so that `read` can say which splits there are
        return (folder / split).is_dir() if split in SPLITS else True

    def classes(self, root: Path, options: FormatOptions) -> list[str] | None:
        if options.classes is not None:
            return options.classes
        folder = required_folder(root)
        return class_names(folder, sorted_wnids(folder))

    def read(self, root: Path, split: str | None, options: FormatOptions) -> LabelIndex:
        folder = required_folder(root)
        wnids = sorted_wnids(folder)
        paths, found = self._items(folder, split, wnids)
        index = {wnid: i for i, wnid in enumerate(wnids)}
        labels = np.array([index[wnid] for wnid in found], np.int64)
        kept, labels = select_classes(labels, class_names(folder, wnids), options.classes, self.title)
        return LabelIndex(FileImages(table_of(folder, [paths[i] for i in kept])), labels)

    def summary(self, root: Path, options: FormatOptions) -> str:
        folder = required_folder(root)
        wnids = sorted_wnids(folder)
        counts = " / ".join(f"{len(self._items(folder, split, wnids)[0]):,} {split}" for split in SPLITS)
        return f"{self.title}: {counts} images, {len(wnids)} classes"

    def _items(self, folder: Path, split: str | None, wnids: list[str]) -> Items:
        if split == "train":
            return train_items(folder, wnids)
        if split == "val":
            return val_items(folder, wnids)
        if split == "test":
            raise UserError(
                f"Tiny-ImageNet's test split ({folder / 'test'}) has no labels: use 'val' to evaluate"
            )
        raise UserError(f"Tiny-ImageNet has no split '{split}': allowed: {', '.join(SPLITS)}")


@DATA_FORMATS.register("tiny_imagenet", "Classification: Tiny-ImageNet-200 (train/, val/ + annotations)")
def tiny_imagenet() -> TinyImageNetFormat:
    return TinyImageNetFormat()
