"""The ImageFolder layout (torchvision's): `<split>/<class_name>/*.jpg`, classes in sorted folder order."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.core.errors import UserError
from engine.data.decode import IMAGE_SUFFIXES
from engine.data.formats.base import (
    DATA_FORMATS,
    DataFormat,
    FormatOptions,
    LabelIndex,
    sorted_files,
    table_of,
)
from engine.data.sources import FileImages

LAYOUT = "expected one sub-folder per class holding its images (<split>/<class_name>/*.jpg)"


def class_folders(folder: Path) -> list[str]:
    """Names of the class sub-folders of a split, sorted (torchvision's ImageFolder order)."""
    if not folder.is_dir():
        raise UserError(f"classification folder {folder} not found: {LAYOUT}")
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise UserError(f"classification folder {folder} has no class sub-folders: {LAYOUT}")
    return names


class ImageFolderFormat(DataFormat):
    name = "image_folder"
    title = "ImageFolder"
    task = "classification"
    layout = LAYOUT

    def detect(self, root: Path, split: str | None) -> bool:
        folder = root / split if split else root
        return folder.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in folder.iterdir())

    def classes(self, root: Path, options: FormatOptions) -> list[str] | None:
        """task.classes, else the training split's class folders (sorted)."""
        return options.classes if options.classes is not None else class_folders(root / options.train_split)

    def read(self, root: Path, split: str | None, options: FormatOptions) -> LabelIndex:
        """Every image under `<split>/<class>/`; for training, folders not in task.classes are left out (a chosen
        subset), for a test set they are an error (it must not hold classes the model never learnt)."""
        folder = root / split if split else root
        classes = options.classes or class_folders(folder)
        index = {name: i for i, name in enumerate(classes)}
        paths: list[Path] = []
        labels: list[int] = []
        for name in class_folders(folder):
            if name not in index and split is not None:
                continue
            if name not in index:
                raise UserError(
                    f"classification folder {folder} has a class folder '{name}' that is not a training "
                    f"class; classes: {', '.join(classes)}"
                )
            found = sorted_files(folder / name, IMAGE_SUFFIXES)
            paths += found
            labels += [index[name]] * len(found)
        if not paths:
            raise UserError(f"classification folder {folder} holds no images: {LAYOUT}")
        return LabelIndex(FileImages(table_of(folder, paths)), np.asarray(labels, dtype=np.int64))


@DATA_FORMATS.register("image_folder", "Classification: <split>/<class>/*.jpg (torchvision ImageFolder)")
def image_folder() -> ImageFolderFormat:
    return ImageFolderFormat()
