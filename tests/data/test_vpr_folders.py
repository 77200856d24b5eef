"""The VPR folder loader: real-format names, resizing, place labels, the cache, and its error messages."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine.data.vpr_folders import CACHE_PREFIX, load_test_set, load_train_places, parse_utm
from engine.errors import UserError
from tests.data.conftest import REAL_NAMES, write_image


def test_parse_utm_reads_fields_one_and_two() -> None:
    assert parse_utm(Path("x") / REAL_NAMES["train"][0]) == (543256.96, 4178906.70)
    assert parse_utm(REAL_NAMES["queries"][0]) == (385945.0, 3951521.0)


def test_parse_utm_names_the_bad_file() -> None:
    with pytest.raises(UserError, match=r"'photo_001\.jpg'.*@utm_east@utm_north"):
        parse_utm("photo_001.jpg")


def test_train_places_from_identical_coordinates(real_format: Path) -> None:
    places = load_train_places(real_format / "train", (24, 32))
    assert places.images.shape == (4, 3, 24, 32) and places.images.dtype == np.uint8
    assert places.num_places == 3
    assert places.labels.dtype == np.int64 and sorted(np.bincount(places.labels)) == [1, 1, 2]
    assert places.utm.shape == (4, 2)


def test_train_places_by_grid_cell(real_format: Path) -> None:
    places = load_train_places(real_format / "train", (24, 32), place_cell_m=50.0)
    assert places.num_places == 2  # the two images 6 m apart share a 50 m cell


def test_test_set_shapes_and_coordinates(real_format: Path) -> None:
    test = load_test_set(real_format / "tokyo", (30, 40))
    assert test.name == "tokyo"
    assert test.database_images.shape == (2, 3, 30, 40) and test.query_images.shape == (1, 3, 30, 40)
    np.testing.assert_allclose(test.query_utm, [[385945.0, 3951521.0]])
    assert test.database_utm.dtype == np.float64


def test_missing_test_folder_says_what_is_expected(tmp_path: Path) -> None:
    (tmp_path / "night" / "database").mkdir(parents=True)
    with pytest.raises(UserError) as err:
        load_test_set(tmp_path / "night", (24, 32))
    message = str(err.value)
    assert str(tmp_path / "night" / "queries") in message
    assert "expected database/ and queries/ with images named @utm_east@utm_north@" in message


def test_missing_or_empty_train_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_train_places(tmp_path / "nowhere", (24, 32))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        load_train_places(tmp_path / "empty", (24, 32))


def test_cache_is_reused_then_invalidated_by_a_changed_file(real_format: Path) -> None:
    folder = real_format / "train"
    first = load_train_places(folder, (24, 32)).images
    caches = list(folder.glob(f"{CACHE_PREFIX}-24x32-*.npy"))
    assert len(caches) == 1
    assert np.array_equal(load_train_places(folder, (24, 32)).images, first)
    changed = folder / REAL_NAMES["train"][3]
    write_image(changed, (50, 70), seed=99)
    os.utime(changed, ns=(1, 1))  # a different mtime even on coarse-clock file systems
    second = load_train_places(folder, (24, 32)).images
    assert not np.array_equal(second, first)
    assert len(list(folder.glob(f"{CACHE_PREFIX}-24x32-*.npy"))) == 1  # the stale cache is gone


def test_read_only_folder_still_loads(real_format: Path) -> None:
    folder = real_format / "train"
    folder.chmod(0o555)
    try:
        assert load_train_places(folder, (16, 16)).images.shape == (4, 3, 16, 16)
    finally:
        folder.chmod(0o755)


def test_loads_the_synthetic_city(small_city: Path) -> None:
    places = load_train_places(small_city / "train", (48, 72))
    assert places.images.shape == (320, 3, 48, 72) and places.num_places == 80
    test = load_test_set(small_city / "sim2real", (48, 72))
    assert test.database_images.shape[0] == 60 and test.query_images.shape[0] == 30
