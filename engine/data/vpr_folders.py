"""Load VPR folders in the gmberton format (UTM in the file names) as uint8 arrays, with an on-disk resize cache."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
NAME_FORMAT = "images named @utm_east@utm_north@…@.jpg"
CACHE_PREFIX = ".labconsole-cache"


@dataclass
class TrainPlaces:
    """Training images grouped into places; images are channels-first uint8: (N, 3, H, W)."""

    images: np.ndarray  # (N, 3, H, W) uint8
    labels: np.ndarray  # (N,) int64 place index in 0..num_places-1
    num_places: int
    utm: np.ndarray  # (N, 2) float64 east, north in metres


@dataclass
class TestSet:
    """A database and its queries, each channels-first uint8 (N, 3, H, W) with (N, 2) UTM east/north."""

    name: str
    database_images: np.ndarray  # (D, 3, H, W) uint8
    database_utm: np.ndarray  # (D, 2) float64 east, north
    query_images: np.ndarray  # (Q, 3, H, W) uint8
    query_utm: np.ndarray  # (Q, 2) float64


def parse_utm(path: str | Path) -> tuple[float, float]:
    """(east, north) in metres from a gmberton-format name: fields 1 and 2 of the name split on '@'."""
    fields = Path(path).name.split("@")
    try:
        return float(fields[1]), float(fields[2])
    except (IndexError, ValueError):
        raise UserError(f"cannot read UTM coordinates from '{path}': expected {NAME_FORMAT}") from None


def load_train_places(folder: str | Path, image_size: tuple[int, int], place_cell_m: float = 0.0) -> TrainPlaces:
    """All images under `folder`, labelled by place: identical coordinates, or a grid cell of `place_cell_m`."""
    paths = _image_paths(Path(folder), f"VPR train folder {folder}")
    utm = np.array([parse_utm(p) for p in paths], np.float64)  # (N, 2)
    keys = np.floor(utm / place_cell_m) if place_cell_m > 0 else np.round(utm, 2)
    _, labels = np.unique(keys, axis=0, return_inverse=True)
    labels = labels.reshape(-1).astype(np.int64)
    return TrainPlaces(load_images(paths, image_size, Path(folder)), labels, int(labels.max()) + 1, utm)


def load_test_set(folder: str | Path, image_size: tuple[int, int]) -> TestSet:
    """A test folder holding database/ and queries/."""
    folder = Path(folder)
    for sub in ("database", "queries"):
        if not (folder / sub).is_dir():
            raise UserError(f"VPR test set folder {folder / sub} not found: expected database/ and queries/ "
                            f"with {NAME_FORMAT}")
    parts = []
    for sub in ("database", "queries"):
        paths = _image_paths(folder / sub, f"VPR test set folder {folder / sub}")
        parts += [load_images(paths, image_size, folder / sub), np.array([parse_utm(p) for p in paths], np.float64)]
    return TestSet(folder.name, *parts)


def _image_paths(folder: Path, where: str) -> list[Path]:
    """Image files under `folder` (recursively), sorted; UserError when missing or empty."""
    if not folder.is_dir():
        raise UserError(f"{where} not found: expected {NAME_FORMAT}")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise UserError(f"{where} holds no images: expected {NAME_FORMAT}")
    return paths


# ---------------------------------------------------------------- decoding, resizing, caching


def load_images(paths: list[Path], image_size: tuple[int, int], cache_dir: Path | None = None) -> np.ndarray:
    """Decode and resize images to (N, 3, H, W) uint8; reuse a cache keyed by size and the files' stats."""
    cache = _cache_path(paths, image_size, cache_dir) if cache_dir is not None else None
    if cache is not None and cache.exists():
        try:
            images = np.load(cache)
            if images.shape == (len(paths), 3, *image_size):
                return images
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:  # Pillow decodes without the GIL
        images = np.stack(list(pool.map(lambda p: _read(p, image_size), paths)))
    if cache is not None:
        _write_cache(cache, images)
    return images


def _read(path: Path, image_size: tuple[int, int]) -> np.ndarray:
    """One image as (3, H, W) uint8, resized with antialiasing (JPEG draft mode decodes big files at 1/2..1/8)."""
    height, width = image_size
    with Image.open(path) as img:
        img.draft("RGB", (width, height))
        rgb = img.convert("RGB")
    if rgb.size != (width, height):
        rgb = rgb.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(rgb).transpose(2, 0, 1)


def _cache_path(paths: list[Path], image_size: tuple[int, int], folder: Path) -> Path:
    """`<folder>/.labconsole-cache-<H>x<W>-<digest>.npy`; the digest covers names, sizes and mtimes."""
    digest = hashlib.sha1()
    for p in paths:
        st = p.stat()
        digest.update(f"{p.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return folder / f"{CACHE_PREFIX}-{image_size[0]}x{image_size[1]}-{digest.hexdigest()[:16]}.npy"


def _write_cache(cache: Path, images: np.ndarray) -> None:
    """Atomic write (temp + rename), replacing stale caches of the same size; read-only folders are skipped."""
    tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, images)
        os.replace(tmp, cache)
        for stale in cache.parent.glob(f"{cache.name.rsplit('-', 1)[0]}-*.npy"):
            if stale != cache:
                stale.unlink(missing_ok=True)
    except OSError:
        tmp.unlink(missing_ok=True)
