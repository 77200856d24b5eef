"""Many file paths under one root, kept as one byte buffer: an index of 560k images costs tens of MB, not pixels.

A Python list of str objects would be copied page by page into every DataLoader worker (reference counts
touch them), so the paths live in two numpy arrays that workers share untouched.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


class PathTable:
    """Relative paths under `root`, in a fixed order; `table[i]` is the absolute Path of item i."""

    def __init__(self, root: str | Path, relative: Iterable[str]) -> None:
        self.root = str(root)
        blob, ends = (
            bytearray(),
            array("q"),
        )  # grown in place: no list of half a million bytes objects on the way
        for name in relative:
            blob += os.fsencode(name)
            ends.append(len(blob))
        self._blob = np.frombuffer(bytes(blob), dtype=np.uint8)
        self._ends = np.frombuffer(ends.tobytes(), dtype=np.int64) if ends else np.zeros(0, np.int64)

    @classmethod
    def of(cls, root: str | Path, paths: Sequence[Path]) -> PathTable:
        """A table of absolute `paths` that all lie under `root`."""
        return cls(root, (str(Path(p).relative_to(root)) for p in paths))

    def __len__(self) -> int:
        return len(self._ends)

    def relative(self, index: int) -> str:
        """Item `index` relative to the root."""
        start = int(self._ends[index - 1]) if index > 0 else 0
        return os.fsdecode(self._blob[start : int(self._ends[index])].tobytes())

    def __getitem__(self, index: int) -> Path:
        return Path(self.root) / self.relative(int(index))

    def subset(self, indices: Sequence[int] | np.ndarray) -> PathTable:
        """The items at `indices`, in that order."""
        return PathTable(self.root, (self.relative(int(i)) for i in indices))

    def names(self) -> list[str]:
        """Every relative path (for tests and small tables; large ones should be read item by item)."""
        return [self.relative(i) for i in range(len(self))]

    def fingerprint(self, with_stats: bool = True) -> str:
        """A hash of the names, plus each file's size and modification time (what a cache must match)."""
        digest = hashlib.sha1(self.root.encode())
        digest.update(self._blob.tobytes())
        digest.update(self._ends.tobytes())
        if with_stats:
            for i in range(len(self)):
                st = self[i].stat()
                digest.update(f"{st.st_size}:{st.st_mtime_ns}\n".encode())
        return digest.hexdigest()[:16]
