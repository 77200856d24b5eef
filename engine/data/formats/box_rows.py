"""What the detection formats share: boxes gathered image by image into a flat BoxIndex, and class subsets."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable

import numpy as np

from engine.core.errors import UserError
from engine.data.formats.base import BoxIndex, select_classes
from engine.data.sources import ImageSource


class BoxRows:
    """Boxes appended image by image (x1, y1, x2, y2 in original pixels), then stored flat as a BoxIndex.

    Python arrays, not lists of small numpy arrays: a COCO train split has ~860k boxes.
    """

    def __init__(self) -> None:
        self._coords = array("f")
        self._labels = array("q")
        self._offsets = array("q", [0])

    def add(self, boxes: Iterable[tuple[float, float, float, float]], labels: Iterable[int]) -> None:
        """The boxes of the next image (possibly none)."""
        for box in boxes:
            self._coords.extend(box)
        self._labels.extend(labels)
        if len(self._coords) != 4 * len(self._labels):
            raise ValueError("one label per box")
        self._offsets.append(len(self._labels))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def index(self, images: ImageSource) -> BoxIndex:
        if len(images) != len(self):
            raise ValueError(f"{len(images)} images for {len(self)} box lists")
        boxes = np.frombuffer(self._coords.tobytes(), np.float32).reshape(-1, 4).copy()
        labels = np.frombuffer(self._labels.tobytes(), np.int64).copy()
        return BoxIndex(images, boxes, labels, np.frombuffer(self._offsets.tobytes(), np.int64).copy())


def checked_box(
    x1: float, y1: float, x2: float, y2: float, width: float | None, height: float | None, where: str
) -> tuple[float, float, float, float] | None:
    """The box clipped to the image (when its size is known); None for an empty one (zero width or height:
    nothing to learn, dropped as torchvision's references do).

    Raises:
        UserError: naming `where`, for a non-finite box or one whose far corner lies before its near one.
    """
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise UserError(f"{where}: box ({x1}, {y1}, {x2}, {y2}) is not finite")
    if x2 < x1 or y2 < y1:
        raise UserError(f"{where}: box x1={x1:g} y1={y1:g} x2={x2:g} y2={y2:g} has x2 < x1 or y2 < y1")
    if width is not None and height is not None:
        x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
        y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2


def keep_classes(index: BoxIndex, names: list[str], wanted: list[str] | None, title: str) -> BoxIndex:
    """The index with only the boxes of task.classes, relabelled in that order (`select_classes`'s rules);
    images that lose every box stay, as background."""
    kept, labels = select_classes(index.labels, names, wanted, title)
    if len(kept) == len(index.labels):
        return BoxIndex(index.images, index.boxes, labels, index.offsets)
    image_of_row = np.repeat(np.arange(len(index.images)), np.diff(index.offsets))
    counts = np.bincount(image_of_row[kept], minlength=len(index.images))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return BoxIndex(index.images, index.boxes[kept], labels, offsets)
