"""Decoded images (or masks) at one size in a memory-mapped .npy under the user's cache folder, never the data's.

Built once, in order, by DataLoader workers; then every process that opens it (DDP ranks, workers, later
runs) shares its pages through the OS page cache. The file name carries a hash of the file list, sizes and
modification times, so a changed data set gets a new cache; a build is written to a temporary name and
renamed, so a crash never leaves half a cache behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

#: Bump when what a cache holds changes meaning (resize method, layout): older files are then ignored.
STORE_VERSION = 2  # 2: JPEGs scaled while decoding (libjpeg-turbo)
#: data.cache: auto caches a set when its decoded copy is at most this large (the demos; not real data sets).
AUTO_CACHE_BYTES = 512 * 2**20


def default_cache_dir() -> Path:
    """`$LABCONSOLE_DATA_CACHE`, else ~/.cache/labconsole/images."""
    configured = os.environ.get("LABCONSOLE_DATA_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "labconsole" / "images"


class ImageStore:
    """A read-only (N, ...) uint8 memmap; `rows` reads a batch of items in any order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.array = np.load(path, mmap_mode="r")

    def __len__(self) -> int:
        return len(self.array)

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """Items `indices` as one array (a copy), read in file order for locality."""
        indices = np.asarray(indices, dtype=np.int64)
        order = np.argsort(indices, kind="stable")
        out = np.empty((len(indices), *self.array.shape[1:]), np.uint8)
        out[order] = self.array[indices[order]]
        return out

    @staticmethod
    def path_for(folder: Path, kind: str, shape: tuple[int, ...], fingerprint: str) -> Path:
        """`<folder>/<kind>-<HxW>-<hash>.npy`: the hash covers the items, their shape and the store version."""
        digest = hashlib.sha1(f"{STORE_VERSION}:{kind}:{shape}:{fingerprint}".encode()).hexdigest()[:16]
        return folder / f"{kind}-{'x'.join(map(str, shape[-2:]))}-{digest}.npy"

    @classmethod
    def open_or_build(
        cls,
        path: Path,
        count: int,
        shape: tuple[int, ...],
        batches: Callable[[], Iterator[tuple[int, np.ndarray]]],
        progress: Callable[[int, int], None],
    ) -> ImageStore:
        """Open the store at `path`, or build it from `batches()` ((start, rows) in order) under a file lock.

        A second process asking for the same store waits for the first to finish and then opens it.
        """
        if path.is_file():
            return cls(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(
            path.parent / ".build.lock", "w"
        ) as lock:  # one lock per folder: builds are rare, files stay few
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.is_file():
                _build(path, count, shape, batches, progress)
        return cls(path)


def _build(
    path: Path,
    count: int,
    shape: tuple[int, ...],
    batches: Callable[[], Iterator[tuple[int, np.ndarray]]],
    progress: Callable[[int, int], None],
) -> None:
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    try:
        memmap = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(count, *shape))
        done, last_report = 0, 0.0
        progress(0, count)
        for start, rows in batches():
            memmap[start : start + len(rows)] = rows
            done += len(rows)
            if time.monotonic() - last_report >= 1.0 or done == count:
                last_report = time.monotonic()
                progress(done, count)
        memmap.flush()
        del memmap
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
