"""Torch datasets over indexes: each batch is read, decoded and resized when asked, in a DataLoader worker.

A batch is asked for with a (B, 2) int64 key array: item indices and one seed per item (the random crop of
a segmentation sample is a pure function of it, so batches are the same with 0 or 8 workers). Reading
errors travel back as a `SampleError` value and are raised by the consumer as one clear line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from engine.core.errors import UserError
from engine.data.image_store import ImageStore
from engine.data.sources import ImageSource, LabelFiles, MaskLabels


@dataclass
class SampleError:
    """A batch that could not be read: the message names the file."""

    message: str


class Batch(NamedTuple):
    """Images B×3×H×W uint8 with their targets (labels B, masks B×H×W uint8, or a list of masks of their own
    sizes) and the item indices."""

    images: torch.Tensor
    targets: Any
    indices: torch.Tensor


def keys_in_order(start: int, stop: int) -> np.ndarray:
    """Keys of items start..stop-1 with seed 0 (evaluation and cache building: nothing random)."""
    indices = np.arange(start, stop, dtype=np.int64)
    return np.stack([indices, np.zeros_like(indices)], 1)


def _chw(images: list[np.ndarray]) -> torch.Tensor:
    """A list of (H, W, 3) uint8 -> B×3×H×W uint8 tensor (contiguous)."""
    return torch.from_numpy(np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2)))


class BatchItems(Dataset):
    """Shared plumbing: `__getitems__` turns reading errors into a SampleError; subclasses implement `_read`."""

    cached = False
    """Whether items come from a decoded cache (a memmap read costs microseconds: no workers needed)."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitems__(self, keys: np.ndarray) -> Batch | SampleError:
        keys = np.asarray(keys, dtype=np.int64).reshape(-1, 2)
        try:
            return self._read(keys[:, 0], keys[:, 1])
        except UserError as exc:
            return SampleError(str(exc))

    def __getitem__(self, index: int) -> Batch | SampleError:
        return self.__getitems__(np.array([[index, 0]]))

    def _read(self, indices: np.ndarray, seeds: np.ndarray) -> Batch:
        raise NotImplementedError

    def describe(self, index: int) -> str:
        """The file behind item `index` (messages about a batch that failed)."""
        raise NotImplementedError


class ImageItems(BatchItems):
    """Images of a source at one size with per-item targets (labels), read from the cache when there is one."""

    def __init__(
        self,
        source: ImageSource,
        size: tuple[int, int],
        targets: np.ndarray | None = None,
        store: ImageStore | None = None,
    ) -> None:
        self.source, self.size, self.store = source, tuple(size), store
        self.cached = store is not None
        self.targets = np.zeros(len(source), np.int64) if targets is None else np.asarray(targets)

    def __len__(self) -> int:
        return len(self.source)

    def _read(self, indices: np.ndarray, seeds: np.ndarray) -> Batch:
        if self.store is not None:
            images = torch.from_numpy(self.store.rows(indices))
        else:
            images = _chw([self.source.read(int(i), self.size) for i in indices])
        return Batch(images, torch.from_numpy(self.targets[indices]), torch.from_numpy(indices))

    def describe(self, index: int) -> str:
        return self.source.describe(index)


@dataclass(frozen=True)
class CropGeometry:
    """Large-image training: resize to fit `resize` (H, W; aspect kept) × a random ratio, then a random crop."""

    resize: tuple[int, int]
    ratio_range: tuple[float, float]

    def scaled_size(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int]:
        """The size to resize an H×W image to: fit inside `resize` (long side to long side), times the ratio."""
        long_edge, short_edge = max(self.resize), min(self.resize)
        fit = min(long_edge / max(height, width), short_edge / min(height, width))
        factor = fit * rng.uniform(*self.ratio_range)
        return max(1, round(height * factor)), max(1, round(width * factor))


class MaskItems(BatchItems):
    """Segmentation samples: image at `size` with its mask.

    Args:
        mask_size: Size of the returned masks: `size` (training) or None (evaluation: each label at its own
            resolution, returned as a list).
        geometry: Random resize + crop of `size` per sample (large images), instead of resizing to `size`.
    """

    def __init__(
        self,
        images: ImageSource,
        masks: LabelFiles,
        size: tuple[int, int],
        mask_size: tuple[int, int] | None,
        geometry: CropGeometry | None = None,
        image_store: ImageStore | None = None,
        mask_store: ImageStore | None = None,
    ) -> None:
        self.images, self.masks, self.size, self.mask_size = images, masks, tuple(size), mask_size
        self.geometry, self.image_store, self.mask_store = geometry, image_store, mask_store
        self.cached = geometry is None and image_store is not None

    def __len__(self) -> int:
        return len(self.images)

    def _read(self, indices: np.ndarray, seeds: np.ndarray) -> Batch:
        if self.geometry is not None:
            pairs = [self._crop(int(i), int(s)) for i, s in zip(indices, seeds)]
            images, masks = _chw([p[0] for p in pairs]), torch.from_numpy(np.stack([p[1] for p in pairs]))
            return Batch(images, masks, torch.from_numpy(indices))
        if self.image_store is not None:
            images = torch.from_numpy(self.image_store.rows(indices))
        else:
            images = _chw([self.images.read(int(i), self.size) for i in indices])
        if self.mask_store is not None:
            masks: Any = torch.from_numpy(self.mask_store.rows(indices))
        else:
            read = [self.masks.read(int(i), self.mask_size) for i in indices]
            same = self.mask_size is not None or len({m.shape for m in read}) == 1
            masks = torch.from_numpy(np.stack(read)) if same else [torch.from_numpy(m) for m in read]
        return Batch(images, masks, torch.from_numpy(indices))

    def _crop(self, index: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Random scale then a random `size` crop (padding where the scaled image is smaller: black, unlabelled)."""
        from engine.data.decode import image_size_of

        assert self.geometry is not None
        rng = np.random.default_rng(seed)
        scaled = self.geometry.scaled_size(*image_size_of(self.images.describe(index)), rng)
        image, mask = self.images.read(index, scaled), self.masks.read(index, scaled)
        (height, width), (crop_h, crop_w) = scaled, self.size
        top = int(rng.integers(0, max(height - crop_h, 0) + 1))
        left = int(rng.integers(0, max(width - crop_w, 0) + 1))
        out_image = np.zeros((crop_h, crop_w, 3), np.uint8)
        out_mask = np.full((crop_h, crop_w), MaskLabels.IGNORE, np.uint8)
        patch_h, patch_w = min(crop_h, height), min(crop_w, width)
        out_image[:patch_h, :patch_w] = image[top : top + patch_h, left : left + patch_w]
        out_mask[:patch_h, :patch_w] = mask[top : top + patch_h, left : left + patch_w]
        return out_image, out_mask

    def describe(self, index: int) -> str:
        return self.images.describe(index)


class ArrayRows(BatchItems):
    """Item i is `read(i)` as it is (building a cache: every item decoded once, in order)."""

    def __init__(self, count: int, read: Callable[[int], np.ndarray], describe: Callable[[int], str]) -> None:
        self.count, self._read_one, self._describe = count, read, describe

    def __len__(self) -> int:
        return self.count

    def _read(self, indices: np.ndarray, seeds: np.ndarray) -> Batch:
        rows = np.stack([self._read_one(int(i)) for i in indices])
        return Batch(torch.from_numpy(rows), None, torch.from_numpy(indices))

    def describe(self, index: int) -> str:
        return self._describe(index)
