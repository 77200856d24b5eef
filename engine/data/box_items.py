"""Detection batches: each image letterboxed into one (H, W) canvas, its boxes moved with it (the YOLOX way).

The image is scaled to fit inside the canvas with its aspect kept, pasted at the top-left, and the rest
filled with grey 114; boxes are scaled by the same factors, clipped to the pasted image, and boxes left
thinner than a pixel are dropped. Nothing decoded is kept between batches, so memory does not grow with
the data set.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.data.decode import image_size_of
from engine.data.formats.base import BoxIndex
from engine.data.samples import Batch, BatchItems

PAD_VALUE = 114
MIN_BOX_PX = 1.0


def letterbox_scale(height: int, width: int, size: tuple[int, int]) -> float:
    """The factor that fits an image of `height` × `width` inside `size` (H, W) with its aspect kept."""
    return min(size[0] / height, size[1] / width)


def letterboxed_size(height: int, width: int, size: tuple[int, int]) -> tuple[int, int]:
    """(h, w) of the scaled image inside the canvas: at least 1 pixel, never beyond `size`."""
    scale = letterbox_scale(height, width, size)
    return (
        min(size[0], max(1, round(height * scale))),
        min(size[1], max(1, round(width * scale))),
    )


def letterbox_boxes(
    boxes: np.ndarray, labels: np.ndarray, original: tuple[int, int], scaled: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (n, 4) of an `original` (H, W) image in the pixels of its `scaled` (h, w) copy, clipped to it;
    boxes narrower or shorter than a pixel afterwards are dropped with their labels."""
    factors = np.array(
        [scaled[1] / original[1], scaled[0] / original[0]] * 2, np.float32
    )  # per axis: rounding the size changes the aspect slightly
    moved = boxes.astype(np.float32) * factors
    moved[:, 0::2] = moved[:, 0::2].clip(0, scaled[1])
    moved[:, 1::2] = moved[:, 1::2].clip(0, scaled[0])
    keep = ((moved[:, 2] - moved[:, 0]) >= MIN_BOX_PX) & ((moved[:, 3] - moved[:, 1]) >= MIN_BOX_PX)
    return moved[keep], labels[keep]


def padded_targets(per_image: list[tuple[np.ndarray, np.ndarray]]) -> torch.Tensor:
    """B×M×5 float32 rows (class, x1, y1, x2, y2); padding rows class -1 and zeros; M = max(1, most boxes)."""
    most = max([1] + [len(labels) for _, labels in per_image])
    targets = np.zeros((len(per_image), most, 5), np.float32)
    targets[:, :, 0] = -1
    for row, (boxes, labels) in enumerate(per_image):
        targets[row, : len(labels), 0] = labels
        targets[row, : len(labels), 1:] = boxes
    return torch.from_numpy(targets)


class BoxItems(BatchItems):
    """Letterboxed images of a BoxIndex at `size` (H, W) with their boxes as padded B×M×5 targets."""

    def __init__(self, index: BoxIndex, size: tuple[int, int]) -> None:
        self.index, self.size = index, (int(size[0]), int(size[1]))

    def __len__(self) -> int:
        return len(self.index.images)

    def _read(self, indices: np.ndarray, seeds: np.ndarray) -> Batch:
        height, width = self.size
        images = np.full((len(indices), height, width, 3), PAD_VALUE, np.uint8)
        per_image = []
        for row, i in enumerate(indices):
            original = image_size_of(self.index.images.describe(int(i)))
            scaled = letterboxed_size(*original, self.size)
            pixels = self.index.images.read(int(i), scaled)
            images[row, : scaled[0], : scaled[1]] = pixels
            per_image.append(letterbox_boxes(*self.index.boxes_of(int(i)), original, scaled))
        chw = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        return Batch(chw, padded_targets(per_image), torch.from_numpy(np.asarray(indices, np.int64)))

    def describe(self, index: int) -> str:
        return self.index.images.describe(index)
