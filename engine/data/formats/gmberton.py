"""The gmberton VPR layout: a training folder of images and test sets of database/ + queries/, positions in names.

Names are `@utm_east@utm_north@utm_zone_number@utm_zone_letter@lat@lon@pano_id@...@.jpg`; fields 1 and 2
are UTM metres. Training images are grouped into places by identical coordinates, or by UTM grid cells of
`data.place_cell_m` metres (SF-XL style data has no place ids).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.core.errors import UserError
from engine.data.decode import IMAGE_SUFFIXES
from engine.data.formats.base import (
    DATA_FORMATS,
    DataFormat,
    FormatOptions,
    PlaceIndex,
    RetrievalIndex,
    sorted_files,
    table_of,
)
from engine.data.sources import FileImages

NAME_FORMAT = "images named @utm_east@utm_north@…@.jpg"


def parse_utm(path: str | Path) -> tuple[float, float]:
    """(east, north) in metres from a gmberton-format name: fields 1 and 2 of the name split on '@'."""
    fields = Path(path).name.split("@")
    try:
        return float(fields[1]), float(fields[2])
    except (IndexError, ValueError):
        raise UserError(f"cannot read UTM coordinates from '{path}': expected {NAME_FORMAT}") from None


def image_files(folder: Path, where: str) -> list[Path]:
    """Image files under `folder` (recursively), sorted; UserError when missing or empty."""
    if not folder.is_dir():
        raise UserError(f"{where} not found: expected {NAME_FORMAT}")
    paths = sorted_files(folder, IMAGE_SUFFIXES)
    if not paths:
        raise UserError(f"{where} holds no images: expected {NAME_FORMAT}")
    return paths


def places_of(utm: np.ndarray, place_cell_m: float) -> np.ndarray:
    """(N,) int64 place index: identical coordinates (to the centimetre), or the same grid cell."""
    keys = np.floor(utm / place_cell_m) if place_cell_m > 0 else np.round(utm, 2)
    _, labels = np.unique(keys, axis=0, return_inverse=True)
    return labels.reshape(-1).astype(np.int64)


class GmbertonFormat(DataFormat):
    name = "gmberton"
    title = "gmberton VPR folders"
    task = "vpr"
    layout = f"a training folder and test sets holding database/ and queries/, {NAME_FORMAT}"

    def detect(self, root: Path, split: str | None) -> bool:
        if split is None:
            return (root / "database").is_dir() and (root / "queries").is_dir()
        return (
            root / split
        ).is_dir()  # the generic VPR layout: the last tried, its reader says what is missing

    def read(self, root: Path, split: str | None, options: FormatOptions) -> PlaceIndex | RetrievalIndex:
        if split is None:
            return self._test(root)
        folder = root / split
        paths = image_files(folder, f"VPR train folder {folder}")
        utm = np.array([parse_utm(p) for p in paths], np.float64).reshape(-1, 2)
        return PlaceIndex(FileImages(table_of(folder, paths)), places_of(utm, options.place_cell_m), utm)

    def _test(self, folder: Path) -> RetrievalIndex:
        for sub in ("database", "queries"):
            if not (folder / sub).is_dir():
                raise UserError(
                    f"VPR test set folder {folder / sub} not found: expected database/ and queries/ "
                    f"with {NAME_FORMAT}"
                )
        parts = []
        for sub in ("database", "queries"):
            paths = image_files(folder / sub, f"VPR test set folder {folder / sub}")
            parts += [
                FileImages(table_of(folder / sub, paths)),
                np.array([parse_utm(p) for p in paths], np.float64).reshape(-1, 2),
            ]
        return RetrievalIndex(*parts)


@DATA_FORMATS.register(
    "gmberton", "VPR: gmberton folders (train/ + database/ and queries/, UTM in the names)"
)
def gmberton() -> GmbertonFormat:
    return GmbertonFormat()
