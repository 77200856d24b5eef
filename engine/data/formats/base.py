"""Data set formats: how a published layout on disk becomes an index of files and labels (never pixels).

One registry, DATA_FORMATS; a format module registers a factory returning a `DataFormat`. A format reads a
split of a data set folder into one of the index types below; the tasks turn indexes into streamed batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.errors import ConfigError, did_you_mean
from engine.core.registry import Registry
from engine.data.path_table import PathTable
from engine.data.sources import ImageSource, LabelFiles

DATA_FORMATS = Registry("data format", "data.format")


@dataclass(frozen=True)
class PlaceIndex:
    """VPR training images grouped into places."""

    images: ImageSource
    places: np.ndarray  # (N,) int64 place index in 0..num_places-1
    utm: np.ndarray | None = None  # (N, 2) float64 east, north in metres, when the format has them

    @property
    def num_places(self) -> int:
        return int(self.places.max()) + 1 if len(self.places) else 0


@dataclass(frozen=True)
class RetrievalIndex:
    """A VPR test set: database and queries with UTM positions; a positive lies within the radius of a query."""

    database: ImageSource
    database_utm: np.ndarray  # (D, 2) float64 east, north
    queries: ImageSource
    query_utm: np.ndarray  # (Q, 2) float64


@dataclass(frozen=True)
class MaskIndex:
    """Segmentation images and their label images, in the same order."""

    images: ImageSource
    masks: LabelFiles


@dataclass(frozen=True)
class LabelIndex:
    """Classification images and their class indices."""

    images: ImageSource
    labels: np.ndarray  # (N,) int64


@dataclass(frozen=True)
class BoxIndex:
    """Detection images and their boxes, stored flat: image i owns rows offsets[i]:offsets[i + 1]."""

    images: ImageSource
    boxes: np.ndarray  # (T, 4) float32 x1, y1, x2, y2 in pixels of the original image
    labels: np.ndarray  # (T,) int64 class index 0..K-1
    offsets: np.ndarray  # (N + 1,) int64

    def boxes_of(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(boxes (n, 4) float32, labels (n,) int64) of image `index`."""
        start, stop = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.boxes[start:stop], self.labels[start:stop]

    @property
    def num_boxes(self) -> int:
        return len(self.labels)


@dataclass
class FormatOptions:
    """What a format may need from the config: data-section keys and the task's class settings."""

    train_split: str = "train"
    place_cell_m: float = 0.0
    cities: list[str] = field(default_factory=list)
    classes: list[str] | None = None
    ignore_index: int = 255

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> FormatOptions:
        data, task = cfg["data"], cfg["task"]
        return cls(
            train_split=str(data.get("train_dir") or "train"),
            place_cell_m=float(data.get("place_cell_m", 0.0)),
            cities=list(data.get("cities") or []),
            classes=task.get("classes"),
            ignore_index=int(task.get("ignore_index", 255)),
        )


class DataFormat:
    """One on-disk layout. Subclasses set the class attributes and implement `detect`, `read` (and `classes`).

    A split is read from `root`: for folder layouts `split` names a sub-folder of `root` (None: `root` is the
    split itself, as a test set's path is); for published data sets it names the split ("train", "val").
    """

    name = ""
    title = ""  # "Cityscapes"
    task = ""  # vpr | segmentation | classification | detection
    layout = ""  # what the folder must hold, for "not found" messages
    default_test_split: str | None = None  # a test set entry without `split` reads this one

    def detect(self, root: Path, split: str | None) -> bool:
        """Whether `root` (and `split`) look like this layout: cheap checks of a few names, no listing."""
        raise NotImplementedError

    def read(self, root: Path, split: str | None, options: FormatOptions) -> Any:
        """The index of one split (PlaceIndex for VPR training, RetrievalIndex for VPR tests, ...).

        Raises:
            UserError: one line naming the file or folder that was expected and not found.
        """
        raise NotImplementedError

    def classes(self, root: Path, options: FormatOptions) -> list[str] | None:
        """Class names in index order (segmentation, classification); None when the config must give them."""
        return options.classes

    def summary(self, root: Path, options: FormatOptions) -> str:
        """One line for `labconsole check` about the data set at `root`, e.g. "Cityscapes: 2,975 train / 500 val
        images, 19 classes" (this default describes the training split)."""
        index = self.read(root, options.train_split, options)
        return f"{self.title}: {describe_index(index)} ({options.train_split})"


def fixed_classes(title: str, names: list[str], options: FormatOptions) -> list[str]:
    """The class names a published label encoding defines; task.classes may only repeat them (a different list
    would silently rename or reorder the classes the label files encode)."""
    if options.classes is not None and list(options.classes) != names:
        raise ConfigError(
            "task.classes",
            f"{title} labels define {len(names)} classes in a fixed order "
            f"({', '.join(names)}); leave task.classes unset or list exactly "
            f"those",
        )
    return list(names)


def select_classes(
    labels: np.ndarray, names: list[str], wanted: list[str] | None, title: str
) -> tuple[np.ndarray, np.ndarray]:
    """(positions kept, their labels) for task.classes: a subset or new order of the published classes, whose
    indices then follow task.classes; every position with unchanged labels when task.classes is not set.

    Raises:
        ConfigError: at task.classes, a name the data set does not have.
    """
    if wanted is None or list(wanted) == names:
        return np.arange(len(labels), dtype=np.int64), labels
    for name in wanted:
        if name not in names:
            raise ConfigError("task.classes", f"'{name}' is not a {title} class{did_you_mean(name, names)}")
    remap = np.full(len(names), -1, np.int64)
    remap[[names.index(name) for name in wanted]] = np.arange(len(wanted))
    remapped = remap[labels]
    kept = np.flatnonzero(remapped >= 0)
    return kept, remapped[kept]


def describe_index(index: Any) -> str:
    """ "2,975 images", "1,200 images of 300 places", "500 database / 400 queries"."""
    if isinstance(index, PlaceIndex):
        return f"{len(index.images):,} images of {index.num_places:,} places"
    if isinstance(index, RetrievalIndex):
        return f"{len(index.database):,} database / {len(index.queries):,} queries"
    if isinstance(index, BoxIndex):
        return f"{len(index.images):,} images, {index.num_boxes:,} boxes"
    return f"{len(index.images):,} images"


def sorted_files(folder: Path, suffixes: tuple[str, ...], recursive: bool = True) -> list[Path]:
    """Files under `folder` with one of `suffixes` (lower-cased), sorted; hidden files skipped."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.suffix.lower() in suffixes and not p.name.startswith("."))


def table_of(root: Path, paths: list[Path]) -> PathTable:
    """A PathTable of `paths` relative to `root`."""
    return PathTable.of(root, paths)
