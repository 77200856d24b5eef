"""Tiny GSV-Cities and Mapillary SLS folders in exactly the published layouts, and what reading them gives."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SIZE = (16, 24)  # (H, W)

GSV_HEADER = ["place_id", "year", "month", "northdeg", "city_id", "lat", "lon", "panoid"]
# Rows as (place_id, year, month, northdeg, lat, lon, panoid). The first is the README's London example; PRS
# reuses place id 130, which must still be a place of its own. Panoids hold '-' and '_' as real ones do.
GSV_ROWS = {
    "London": [
        (130, 2018, 4, 15, 51.4861, -0.0895151, "6jFjb3wGyCkcBfq4k559ag"),
        (130, 2019, 6, 195, 51.48612349812736, -0.08950871239823, "Qm0kd9Sx-_hT2bLq9wAeZg"),
        (130, 2015, 11, 300, 51.48608113920211, -0.0895543871100371, "a8Hq2_LxV0pWm3Kd-7sTjA"),
        (7, 2016, 8, 90, 51.50121087313376, -0.1241092374512, "Zk3vP0q_Wm8-xT2sLd9FgA"),
        (7, 2017, 9, 270, 51.50119443201157, -0.12408123877654, "Hf7Kx2-pLq0Zs9mNt4VbRw"),
        (42, 2014, 1, 5, 51.47553216784421, -0.0381123445127, "pQ2mW8x-ZsT0vK7bLc4nHA"),
        (42, 2020, 12, 359, 51.47551982234101, -0.03809812344711, "Lr5tY1_cXz9Qw2Ep-6uJkB"),
    ],
    "PRS": [
        (3, 2015, 5, 584, 48.79733778544615, 2.231461206488333, "7P0FnGV3k4Fmtw66b8_-Gg"),
        (3, 2017, 7, 32, 48.79731224018733, 2.231488115467021, "Ud4gT7-kRp1Xs0Wq_3nMzA"),
        (130, 2016, 3, 120, 48.85830091230977, 2.294481235667102, "Yc8Ln3_vBq2Zt-5Hx0sKpQ"),
        (130, 2019, 10, 240, 48.85828744510023, 2.294512093341276, "Jm6Rw9-eTz4Nk_1Ps7dFvC"),
    ],
}

RAW_HEADER = ["", "key", "lon", "lat", "ca", "captured_at", "pano"]
POSTPROCESSED_HEADER = [
    "",
    "key",
    "easting",
    "northing",
    "unique_cluster",
    "control_panel",
    "night",
    "view_direction",
]
SEQ_INFO_HEADER = ["", "key", "sequence_key", "frame_number"]
SUBTASK_HEADER = ["", "key", "all", "s2w", "w2s", "o2n", "n2o", "d2n", "n2d"]

# Offsets in metres from a city's base position. Database 0, 1 and query 0 share a 10 m cell, as do database
# 2, 3 and query 1; query 2 is alone (no positive). The panoramas sit next to query 0 and must be left out.
MSLS_DATABASE = [(0.0, 0.0), (3.0, 4.0), (500.0, 0.0), (503.0, 2.0)]
MSLS_QUERIES = [(1.0, 1.0), (501.0, 1.0), (2000.0, 0.0)]
MSLS_PANORAMA = (0.0, 1.0)
# Bases end in .5 so every offset above stays inside the intended 10 m cell. Each pair of cities shares its
# base on purpose: cities lie in different UTM zones, so equal coordinates in two cities are possible and
# must never make one place or one positive.
MSLS_BASES = {
    "trondheim": (241820.5, 9862140.5),
    "nairobi": (241820.5, 9862140.5),
    "cph": (724000.5, 6175000.5),
    "sf": (724000.5, 6175000.5),
}
MSLS_TRAIN = ["trondheim", "nairobi"]  # in msls.py's order of training cities
MSLS_VAL = ["cph", "sf"]
KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def write_image(path: Path, seed: int) -> None:
    """A small random RGB JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (*IMAGE_SIZE, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)


def gsv_name(city: str, row: tuple) -> str:
    """The official `get_img_name`: floats written as Python writes them, as in the CSV."""
    place, year, month, north, lat, lon, panoid = row
    return f"{city}_{place:07d}_{year:04d}_{month:02d}_{north:03d}_{lat}_{lon}_{panoid}.jpg"


def make_gsv_cities(root: Path) -> dict:
    """Dataframes/<city>.csv and Images/<city>/ for London and PRS.

    Returns:
        cities, images (count), places (count), and labels: relative image path -> (city, place_id).
    """
    labels: dict[str, tuple[str, int]] = {}
    for city, rows in GSV_ROWS.items():
        write_csv(
            root / "Dataframes" / f"{city}.csv",
            GSV_HEADER,
            [
                [place, year, month, north, city, lat, lon, panoid]
                for place, year, month, north, lat, lon, panoid in rows
            ],
        )
        for row in rows:
            relative = f"Images/{city}/{gsv_name(city, row)}"
            write_image(root / relative, seed=len(labels))
            labels[relative] = (city, row[0])
    return {
        "cities": list(GSV_ROWS),
        "images": len(labels),
        "places": len(set(labels.values())),
        "labels": labels,
    }


def msls_key(rng: np.random.Generator) -> str:
    """A 22-character Mapillary image key."""
    return "".join(rng.choice(list(KEY_ALPHABET), 22))


def make_msls_subset(
    folder: Path, base: tuple[float, float], offsets: list[tuple[float, float]], rng: np.random.Generator
) -> dict:
    """One database/ or query/ folder: images/<key>.jpg and the four CSVs, a panorama as the third row."""
    shots = [(msls_key(rng), base[0] + de, base[1] + dn, False) for de, dn in offsets]
    panorama = (msls_key(rng), base[0] + MSLS_PANORAMA[0], base[1] + MSLS_PANORAMA[1], True)
    rows = shots[:2] + [panorama] + shots[2:]
    write_csv(
        folder / "raw.csv",
        RAW_HEADER,
        [
            [i, key, f"{36.67991 + i * 1e-5:.5f}", f"{-1.24616 + i * 1e-5:.5f}", 12.5, "2018-05-27", pano]
            for i, (key, _, _, pano) in enumerate(rows)
        ],
    )
    write_csv(
        folder / "postprocessed.csv",
        POSTPROCESSED_HEADER,
        [
            [i, key, f"{east:.2f}", f"{north:.2f}", i, False, False, "Forward"]
            for i, (key, east, north, _) in enumerate(rows)
        ],
    )
    write_csv(
        folder / "seq_info.csv",
        SEQ_INFO_HEADER,
        [[i, key, "dTz8mRqJp2Lx0WsK5vNbYA", i] for i, (key, *_) in enumerate(rows)],
    )
    write_csv(
        folder / "subtask_index.csv",
        SUBTASK_HEADER,
        [[i, key, True, False, False, False, False, False, False] for i, (key, *_) in enumerate(rows)],
    )
    for key, *_ in rows:
        write_image(folder / "images" / f"{key}.jpg", seed=int(rng.integers(1 << 30)))
    return {"shots": [(key, (east, north)) for key, east, north, _ in shots], "panorama": panorama[0]}


def make_msls(root: Path) -> dict:
    """train_val/<city>/{database,query}/ for two training cities and the two val cities.

    Returns:
        per city: "database" / "query" -> {"shots": [(key, (east, north)) in CSV order], "panorama": key};
        plus train / val city lists and the expected training counts with 10 m cells.
    """
    rng = np.random.default_rng(7)
    cities = {}
    for city, base in MSLS_BASES.items():
        folder = root / "train_val" / city
        cities[city] = {
            "database": make_msls_subset(folder / "database", base, MSLS_DATABASE, rng),
            "query": make_msls_subset(folder / "query", base, MSLS_QUERIES, rng),
        }
    per_city = len(MSLS_DATABASE) + len(MSLS_QUERIES)
    return {
        "cities": cities,
        "train": MSLS_TRAIN,
        "val": MSLS_VAL,
        "train_images": per_city * len(MSLS_TRAIN),
        "train_places": 3 * len(MSLS_TRAIN),
    }
