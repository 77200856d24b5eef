"""Mapillary SLS: train_val/<city>/{database,query}/ holding images/<key>.jpg and CSVs of positions (UTM).

Every CSV starts with an unnamed index column; columns are read by name. Positions are postprocessed.csv
`easting`/`northing`; panoramas (raw.csv `pano` True) are left out, as the official msls.py does. MSLS has no
place ids: training images are grouped into places by UTM grid cells, never across cities.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.core.errors import UserError
from engine.data.formats.base import DATA_FORMATS, DataFormat, FormatOptions, PlaceIndex, RetrievalIndex
from engine.data.path_table import PathTable
from engine.data.sources import FileImages

#: `default_cities` of mapillary_sls/datasets/msls.py.
TRAIN_CITIES = (
    "trondheim",
    "london",
    "boston",
    "melbourne",
    "amsterdam",
    "helsinki",
    "tokyo",
    "toronto",
    "saopaulo",
    "moscow",
    "zurich",
    "paris",
    "bangkok",
    "budapest",
    "austin",
    "berlin",
    "ottawa",
    "phoenix",
    "goa",
    "amman",
    "nairobi",
    "manila",
)
VAL_CITIES = ("cph", "sf")
SUBSETS = ("database", "query")
POSITION_COLUMNS = ("key", "easting", "northing")  # postprocessed.csv
PANORAMA_COLUMNS = ("key", "pano")  # raw.csv
#: msls.py's training positive radius (posDistThr): the place cell size when data.place_cell_m is 0.
TRAIN_CELL_M = 10.0
#: Northing offset between merged cities. Every city keeps its own UTM zone, so two cities' raw coordinates
#: may coincide; UTM northings lie in 0..1e7 m, so steps of 1e8 m put cities far beyond any positive radius.
CITY_SPACING_M = 1e8
LAYOUT = "train_val/<city>/{database,query}/ holding images/<key>.jpg, raw.csv and postprocessed.csv"


def is_city_folder(folder: Path) -> bool:
    """Whether `folder` is one MSLS city (train_val/<city>)."""
    return all((folder / sub / "postprocessed.csv").is_file() for sub in SUBSETS)


def header_hint(columns: tuple[str, ...]) -> str:
    """What an MSLS CSV header must hold, for error messages."""
    return f"expected a header ,{','.join(columns)},… (an unnamed index column first)"


def csv_columns(path: Path, columns: tuple[str, ...]) -> list[list[str]]:
    """The named columns of an MSLS CSV, one list each; a missing file or column is a UserError naming it."""
    if not path.is_file():
        raise UserError(f"MSLS file {path} not found: expected {LAYOUT}")
    expected = header_hint(columns)
    with path.open(newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader, [])
        missing = [c for c in columns if c not in header]
        if missing:
            raise UserError(f"MSLS file {path} lacks column(s) {', '.join(missing)}: {expected}")
        picks = [header.index(c) for c in columns]
        try:
            rows = [[row[i] for i in picks] for row in reader if row]
        except IndexError:
            raise UserError(f"MSLS file {path} has a row shorter than its header: {expected}") from None
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in columns]


def read_subset(folder: Path, table_root: Path) -> tuple[list[str], np.ndarray]:
    """Image paths relative to `table_root` and (N, 2) easting, northing of one database/ or query/ folder,
    panoramas left out."""
    if not (folder / "images").is_dir():
        raise UserError(f"MSLS folder {folder / 'images'} not found: expected {LAYOUT}")
    keys, easting, northing = csv_columns(folder / "postprocessed.csv", POSITION_COLUMNS)
    raw_keys, pano = csv_columns(folder / "raw.csv", PANORAMA_COLUMNS)
    panoramas = {k for k, p in zip(raw_keys, pano) if p.strip().lower() == "true"}
    keep = [i for i, k in enumerate(keys) if k not in panoramas]
    prefix = (folder / "images").relative_to(table_root).as_posix()
    try:
        utm = np.array([(float(easting[i]), float(northing[i])) for i in keep], np.float64).reshape(-1, 2)
    except ValueError:
        where, hint = folder / "postprocessed.csv", header_hint(POSITION_COLUMNS)
        raise UserError(f"MSLS file {where} has a non-numeric easting or northing: {hint}") from None
    return [f"{prefix}/{keys[i]}.jpg" for i in keep], utm


def cell_places(utm: np.ndarray, cell_m: float) -> np.ndarray:
    """(N,) int64 place index 0..P-1 of the UTM grid cell of `cell_m` metres each image lies in."""
    _, labels = np.unique(np.floor(utm / cell_m), axis=0, return_inverse=True)
    return labels.reshape(-1).astype(np.int64)


def spaced(utm: np.ndarray, city_number: int) -> np.ndarray:
    """`utm` with the northing moved by city_number * CITY_SPACING_M, so no two cities are ever near."""
    return utm + np.array([0.0, city_number * CITY_SPACING_M])


def val_cities(root: Path) -> list[Path]:
    """The official val city folders (train_val/cph, train_val/sf); both required so scores compare."""
    folders = [root / "train_val" / city for city in VAL_CITIES]
    for folder in folders:
        if not folder.is_dir():
            raise UserError(
                f"MSLS val city {folder} not found: MSLS val is {' + '.join(VAL_CITIES)} "
                f"({LAYOUT}); point the test set at one city folder to evaluate it alone"
            )
    return folders


def train_cities(root: Path, options: FormatOptions) -> list[Path]:
    """The city folders to train on: data.cities when given, else the official train cities that exist."""
    if is_city_folder(root):
        return [root]
    folder = root / "train_val"
    if not folder.is_dir():
        raise UserError(f"MSLS folder {folder} not found: expected {LAYOUT}")
    available = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [c for c in options.cities if c not in available]
    if unknown:
        raise UserError(f"MSLS has no city '{unknown[0]}' in {folder}; available: {', '.join(available)}")
    chosen = options.cities or [c for c in TRAIN_CITIES if c in available]
    if not chosen:
        raise UserError(
            f"{folder} holds none of the MSLS training cities ({', '.join(TRAIN_CITIES)}): "
            f"expected {LAYOUT}, or set data.cities"
        )
    return [folder / city for city in chosen]


class MslsFormat(DataFormat):
    name = "msls"
    title = "Mapillary SLS"
    task = "vpr"
    layout = f"an MSLS root with {LAYOUT}, or one city folder (train_val/<city>) as a test set"
    default_test_split = "val"

    def detect(self, root: Path, split: str | None) -> bool:
        return (root / "train_val").is_dir() or is_city_folder(root)

    def read(self, root: Path, split: str | None, options: FormatOptions) -> PlaceIndex | RetrievalIndex:
        """A test set for split None or "val" (a city folder, or cph + sf of an MSLS root), else training."""
        if split is None or split == "val":
            return self._test(root)
        return self._train(train_cities(root, options), options.place_cell_m or TRAIN_CELL_M)

    def summary(self, root: Path, options: FormatOptions) -> str:
        index = self.read(root, options.train_split, options)
        cities = len(train_cities(root, options))
        return (
            f"{self.title}: {len(index.images):,} images of {index.num_places:,} places in {cities:,} "
            f"{'city' if cities == 1 else 'cities'} ({options.train_split})"
        )

    def _train(self, cities: list[Path], cell_m: float) -> PlaceIndex:
        table_root = cities[0].parent
        names: list[str] = []
        utms, places, first_place = [], [], 0
        for number, city in enumerate(cities):
            parts = [read_subset(city / sub, table_root) for sub in SUBSETS]
            names += [name for sub_names, _ in parts for name in sub_names]
            city_utm = np.concatenate([utm for _, utm in parts])
            # Cells are numbered per city after the places so far, so two cities never share a place.
            city_places = cell_places(city_utm, cell_m) + first_place
            first_place = int(city_places.max()) + 1 if len(city_places) else first_place
            places.append(city_places)
            utms.append(spaced(city_utm, number))
        if not names:
            raise UserError(
                f"MSLS training cities {', '.join(c.name for c in cities)} hold no images: expected {LAYOUT}"
            )
        images = FileImages(PathTable(table_root, names))
        return PlaceIndex(images, np.concatenate(places), np.concatenate(utms))

    def _test(self, root: Path) -> RetrievalIndex:
        if is_city_folder(root) or any((root / sub).is_dir() for sub in SUBSETS):
            cities, table_root = [root], root  # a city folder; read_subset names whatever it lacks
        elif (root / "train_val").is_dir():
            cities, table_root = val_cities(root), root / "train_val"
        else:
            raise UserError(
                f"{root} is not an MSLS test set: expected a city folder holding database/ and "
                f"query/ (images/<key>.jpg, postprocessed.csv) or an MSLS root with {LAYOUT}"
            )
        database = self._merged([read_subset(c / "database", table_root) for c in cities], table_root)
        queries = self._merged([read_subset(c / "query", table_root) for c in cities], table_root)
        return RetrievalIndex(*database, *queries)

    @staticmethod
    def _merged(parts: list[tuple[list[str], np.ndarray]], table_root: Path) -> tuple[FileImages, np.ndarray]:
        """One source of every city's images, each city's positions spaced apart (see CITY_SPACING_M)."""
        names = [name for city_names, _ in parts for name in city_names]
        utm = np.concatenate([spaced(utm, number) for number, (_, utm) in enumerate(parts)])
        return FileImages(PathTable(table_root, names)), utm.reshape(-1, 2)


@DATA_FORMATS.register("msls", "VPR: Mapillary SLS (train_val/<city>/{database,query}/ + CSVs)")
def msls() -> MslsFormat:
    return MslsFormat()
