"""The gmberton VPR layout: real-format names, place labels, test sets, resizing, and its error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import UserError
from engine.data.formats import DATA_FORMATS, FormatOptions, PlaceIndex, RetrievalIndex
from engine.data.formats.gmberton import parse_utm
from tests.data.conftest import REAL_NAMES

GMBERTON = DATA_FORMATS.build("gmberton")


def train_places(folder: Path, place_cell_m: float = 0.0) -> PlaceIndex:
    return GMBERTON.read(folder.parent, folder.name, FormatOptions(place_cell_m=place_cell_m))


def test_parse_utm_reads_fields_one_and_two() -> None:
    assert parse_utm(Path("x") / REAL_NAMES["train"][0]) == (543256.96, 4178906.70)
    assert parse_utm(REAL_NAMES["queries"][0]) == (385945.0, 3951521.0)


def test_parse_utm_names_the_bad_file() -> None:
    with pytest.raises(UserError, match=r"'photo_001\.jpg'.*@utm_east@utm_north"):
        parse_utm("photo_001.jpg")


def test_train_places_from_identical_coordinates(real_format: Path) -> None:
    places = train_places(real_format / "train")
    assert len(places.images) == 4 and places.num_places == 3
    assert places.places.dtype == np.int64 and sorted(np.bincount(places.places)) == [1, 1, 2]
    assert places.utm.shape == (4, 2)
    image = places.images.read(0, (24, 32))
    assert image.shape == (24, 32, 3) and image.dtype == np.uint8  # decoded on demand, resized


def test_train_places_by_grid_cell(real_format: Path) -> None:
    assert train_places(real_format / "train", place_cell_m=50.0).num_places == 2  # 6 m apart: one 50 m cell


def test_test_set_counts_and_coordinates(real_format: Path) -> None:
    test = GMBERTON.read(real_format / "tokyo", None, FormatOptions())
    assert isinstance(test, RetrievalIndex)
    assert len(test.database) == 2 and len(test.queries) == 1
    np.testing.assert_allclose(test.query_utm, [[385945.0, 3951521.0]])
    assert test.database_utm.dtype == np.float64
    assert test.queries.read(0, (30, 40)).shape == (30, 40, 3)


def test_missing_test_folder_says_what_is_expected(tmp_path: Path) -> None:
    (tmp_path / "night" / "database").mkdir(parents=True)
    with pytest.raises(UserError) as err:
        GMBERTON.read(tmp_path / "night", None, FormatOptions())
    message = str(err.value)
    assert str(tmp_path / "night" / "queries") in message
    assert "expected database/ and queries/ with images named @utm_east@utm_north@" in message


def test_missing_or_empty_train_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        train_places(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        train_places(tmp_path / "empty")


def test_read_only_folder_is_read_and_never_written(real_format: Path) -> None:
    folder = real_format / "train"
    before = sorted(p.name for p in folder.iterdir())
    folder.chmod(0o555)
    try:
        places = train_places(folder)
        assert [places.images.read(i, (16, 16)).shape for i in range(4)] == [(16, 16, 3)] * 4
    finally:
        folder.chmod(0o755)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_reads_the_synthetic_city(small_city: Path) -> None:
    places = train_places(small_city / "train")
    assert len(places.images) == 320 and places.num_places == 80
    test = GMBERTON.read(small_city / "sim2real", None, FormatOptions())
    assert len(test.database) == 60 and len(test.queries) == 30
