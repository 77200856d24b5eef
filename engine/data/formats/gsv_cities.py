"""GSV-Cities (amaralibey/gsv-cities): Dataframes/<city>.csv lists the images, Images/<city_id>/ holds them.

Image names are built from the CSV rows exactly as the official loader does (`get_img_name`), so reading the
index never lists or stats the ~560k files: one probe per city checks that the name rule matches the disk.
GSV-Cities is a training set only (it has no database/queries split).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.core.errors import UserError
from engine.data.formats.base import DATA_FORMATS, DataFormat, FormatOptions, PlaceIndex
from engine.data.path_table import PathTable
from engine.data.sources import FileImages

COLUMNS = ("place_id", "year", "month", "northdeg", "city_id", "lat", "lon", "panoid")
LAYOUT = f"Dataframes/<city>.csv (columns {','.join(COLUMNS)}) and Images/<city_id>/<city_id>_<place_id>_…jpg"
#: The official loader writes `.jpg`; the README's examples show `.JPG`, so a city's images may use either.
SUFFIXES = (".jpg", ".JPG")
#: The official loader makes place ids unique across cities by adding city_index * 10**5 and undoes it in
#: the image name with `% 10**5`; applying the modulo keeps names right for CSVs saved after that offset.
PLACE_ID_MODULUS = 10**5


def image_stem(row: dict[str, str]) -> str:
    """`{city_id}_{place_id:07}_{year:04}_{month:02}_{northdeg:03}_{lat}_{lon}_{panoid}` (no suffix).

    lat/lon stay the CSV text: the names were written from the same values, and a float round trip could
    change their digits.
    """
    place = str(int(row["place_id"]) % PLACE_ID_MODULUS).zfill(7)
    year = str(int(row["year"])).zfill(4)
    month = str(int(row["month"])).zfill(2)
    north = str(int(row["northdeg"])).zfill(3)
    return f"{row['city_id']}_{place}_{year}_{month}_{north}_{row['lat']}_{row['lon']}_{row['panoid']}"


def city_csvs(root: Path) -> dict[str, Path]:
    """City name -> its `Dataframes/<city>.csv`, sorted by name."""
    folder = root / "Dataframes"
    if not folder.is_dir():
        raise UserError(f"GSV-Cities folder {folder} not found: expected {LAYOUT}")
    found = {p.stem: p for p in sorted(folder.glob("*.csv")) if not p.name.startswith(".")}
    if not found:
        raise UserError(f"GSV-Cities folder {folder} holds no <city>.csv: expected {LAYOUT}")
    return found


def chosen_cities(root: Path, options: FormatOptions) -> dict[str, Path]:
    """data.cities (in that order) when given, else every city CSV."""
    available = city_csvs(root)
    unknown = [c for c in options.cities if c not in available]
    if unknown:
        raise UserError(
            f"GSV-Cities has no city '{unknown[0]}' in {root / 'Dataframes'}; available: "
            f"{', '.join(available)}"
        )
    return {c: available[c] for c in options.cities} if options.cities else available


def read_city(root: Path, csv_path: Path) -> tuple[list[str], np.ndarray]:
    """Relative image paths (under `root`) and the CSV's place ids, one per row."""
    with csv_path.open(newline="") as stream:
        reader = csv.DictReader(stream)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(
                f"GSV-Cities file {csv_path} lacks column(s) {', '.join(missing)}: "
                f"expected a header {','.join(COLUMNS)}"
            )
        stems, places = [], []
        for line, row in enumerate(reader, start=2):
            try:
                if any(row[c] is None for c in COLUMNS):  # a short row (DictReader fills in None)
                    raise ValueError(line)
                stems.append(f"Images/{row['city_id']}/{image_stem(row)}")
                places.append(int(row["place_id"]))
            except (TypeError, ValueError):
                raise UserError(
                    f"GSV-Cities file {csv_path} line {line} is not a valid row: expected "
                    f"{','.join(COLUMNS)} with integer place_id, year, month, northdeg"
                ) from None
    suffix = image_suffix(root, stems[0], csv_path) if stems else SUFFIXES[0]
    return [stem + suffix for stem in stems], np.asarray(places, np.int64)


def image_suffix(root: Path, first_stem: str, csv_path: Path) -> str:
    """The suffix under which the city's first image exists (one stat or two per city, not per image)."""
    for suffix in SUFFIXES:
        if (root / (first_stem + suffix)).is_file():
            return suffix
    raise UserError(
        f"GSV-Cities image {root / first_stem}.jpg (first row of {csv_path.name}) not found: "
        f"expected {LAYOUT}"
    )


def city_names(root: Path, cities: dict[str, Path], place_ids: list[np.ndarray]) -> Iterator[str]:
    """Relative image paths of every city in turn, appending each city's place ids to `place_ids`.

    A generator, so the PathTable encodes one city's names at a time instead of holding all 560k twice.
    """
    for csv_path in cities.values():
        names, ids = read_city(root, csv_path)
        place_ids.append(ids)
        yield from names


def dense_places(place_ids: list[np.ndarray]) -> np.ndarray:
    """(N,) int64 place index 0..P-1 from each city's place ids: the same id in two cities is two places."""
    labels, first = [], 0
    for ids in place_ids:
        unique, dense = np.unique(ids, return_inverse=True)
        labels.append(dense.reshape(-1).astype(np.int64) + first)
        first += len(unique)
    return np.concatenate(labels) if labels else np.zeros(0, np.int64)


class GsvCitiesFormat(DataFormat):
    name = "gsv_cities"
    title = "GSV-Cities"
    task = "vpr"
    layout = LAYOUT

    def detect(self, root: Path, split: str | None) -> bool:
        dataframes = root / "Dataframes"
        has_csv = dataframes.is_dir() and next(dataframes.glob("*.csv"), None) is not None
        return has_csv and (root / "Images").is_dir()

    def read(self, root: Path, split: str | None, options: FormatOptions) -> PlaceIndex:
        """Every image of the chosen cities; `split` (data.train_dir) is ignored: GSV-Cities is one set."""
        if split is None:
            raise UserError(f"{root} is GSV-Cities, a training set only: use a gmberton or MSLS test set")
        if not (root / "Images").is_dir():
            raise UserError(f"GSV-Cities folder {root / 'Images'} not found: expected {LAYOUT}")
        place_ids: list[np.ndarray] = []
        table = PathTable(root, city_names(root, chosen_cities(root, options), place_ids))
        if not len(table):
            raise UserError(f"GSV-Cities CSVs in {root / 'Dataframes'} list no images: expected {LAYOUT}")
        return PlaceIndex(FileImages(table), dense_places(place_ids), utm=None)

    def summary(self, root: Path, options: FormatOptions) -> str:
        index = self.read(root, options.train_split, options)
        cities = len(chosen_cities(root, options))
        return (
            f"{self.title}: {len(index.images):,} images of {index.num_places:,} places in {cities:,} "
            f"{'city' if cities == 1 else 'cities'}"
        )


@DATA_FORMATS.register("gsv_cities", "VPR: GSV-Cities (Dataframes/<city>.csv + Images/<city>/)")
def gsv_cities() -> GsvCitiesFormat:
    return GsvCitiesFormat()
