"""Where pixels come from: image files listed in a PathTable, or records inside a binary file (CIFAR).

A source reads one item on demand; nothing is decoded ahead. DataLoader workers call `read`, so a source
holds only compact arrays (it is shared with forked workers as it is).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from engine.core.errors import UserError
from engine.data.decode import read_labels, read_rgb
from engine.data.path_table import PathTable


class ImageSource(Protocol):
    """Items that decode to (H, W, 3) uint8 images."""

    cacheable: bool
    """Whether decoded copies are worth caching (files: yes; records already stored raw: no)."""

    def __len__(self) -> int: ...

    def read(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Item `index` as (H, W, 3) uint8, resized to `size` (H, W) when given."""

    def describe(self, index: int) -> str:
        """What item `index` is, for error messages (its file)."""

    def fingerprint(self) -> str:
        """Changes whenever the items do (cache keys)."""


class FileImages:
    """Image files (JPEG, PNG) named by a PathTable."""

    cacheable = True

    def __init__(self, paths: PathTable) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        return read_rgb(self.paths[index], size)

    def describe(self, index: int) -> str:
        return str(self.paths[index])

    def fingerprint(self) -> str:
        return self.paths.fingerprint()


class MaskLabels:
    """How raw label-file values map to class indices: a lookup table plus which raw values are allowed.

    Attributes:
        lut: (65536,) uint8: raw value -> class index, or IGNORE (unlabelled).
        allowed: (65536,) bool: values a file may hold; any other is an error naming the file.
        expected: Human description of the allowed values, for that error.
    """

    IGNORE = 255

    def __init__(self, lut: np.ndarray, allowed: np.ndarray, expected: str) -> None:
        self.lut = np.zeros(65536, np.uint8) + self.IGNORE
        self.lut[: len(lut)] = lut
        self.allowed = np.zeros(65536, bool)
        self.allowed[: len(allowed)] = allowed
        self.expected = expected

    @classmethod
    def indices(cls, num_classes: int, ignore_index: int = 255) -> MaskLabels:
        """Files that already hold class indices 0..num_classes-1, and `ignore_index` for unlabelled pixels."""
        lut = np.full(256, cls.IGNORE, np.uint8)
        lut[:num_classes] = np.arange(num_classes)
        allowed = np.zeros(256, bool)
        allowed[:num_classes] = allowed[ignore_index] = True
        return cls(lut, allowed, f"class indices 0..{num_classes - 1} or task.ignore_index {ignore_index}")

    @classmethod
    def mapping(cls, table: dict[int, int], expected: str) -> MaskLabels:
        """Files in another id space (e.g. Cityscapes label ids): listed ids map to classes, every other value is
        unlabelled."""
        lut = np.full(65536, cls.IGNORE, np.uint8)
        for raw, train_id in table.items():
            lut[raw] = train_id
        return cls(lut, np.ones(65536, bool), expected)

    def key(self) -> str:
        """Changes with the mapping (cache keys)."""
        import hashlib

        return hashlib.sha1(self.lut.tobytes() + self.allowed.tobytes()).hexdigest()[:12]


class LabelFiles:
    """Label images (one class index per pixel after `labels`), named by a PathTable parallel to the images."""

    def __init__(self, paths: PathTable, labels: MaskLabels) -> None:
        self.paths = paths
        self.labels = labels

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """(H, W) uint8 class indices (MaskLabels.IGNORE unlabelled), nearest-resized to `size` when given.

        Raises:
            UserError: a value the format does not allow, naming the file.
        """
        path = self.paths[index]
        raw = read_labels(path, size)
        if raw.dtype.kind == "i" and (raw.min(initial=0) < 0 or raw.max(initial=0) > 65535):
            raise UserError(f"mask {path} holds values outside 0..65535: expected {self.labels.expected}")
        raw = raw.astype(np.int64, copy=False) if raw.dtype.kind == "i" else raw
        bad = ~self.labels.allowed[raw]
        if bad.any():
            raise UserError(f"mask {path} holds value {int(raw[bad][0])}: expected {self.labels.expected}")
        return self.labels.lut[raw]

    def describe(self, index: int) -> str:
        return str(self.paths[index])

    def fingerprint(self) -> str:
        return f"{self.paths.fingerprint()}-{self.labels.key()}"
