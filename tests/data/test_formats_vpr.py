"""GSV-Cities and MSLS formats: the published layouts read back into places, positions and test sets."""

from __future__ import annotations

import csv
import shutil
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import UserError
from engine.data.formats import DATA_FORMATS, FormatOptions, PlaceIndex, RetrievalIndex, find_format
from engine.data.formats.msls import CITY_SPACING_M
from engine.metrics.recall import positives_within
from tests.data.conftest import REAL_NAMES
from tests.data.fixtures_vpr_formats import make_gsv_cities, make_msls

README_EXAMPLE = "Images/London/London_0000130_2018_04_015_51.4861_-0.0895151_6jFjb3wGyCkcBfq4k559ag.jpg"


@pytest.fixture
def gsv(tmp_path: Path) -> tuple[Path, dict]:
    return tmp_path / "gsv-cities", make_gsv_cities(tmp_path / "gsv-cities")


@pytest.fixture
def msls(tmp_path: Path) -> tuple[Path, dict]:
    return tmp_path / "msls", make_msls(tmp_path / "msls")


def names_of(images) -> list[str]:  # type: ignore[no-untyped-def]
    return images.paths.names()


def assert_same_label_iff_same_group(labels: np.ndarray, groups: list) -> None:
    """Two images share a label exactly when they belong to the same group."""
    for i, j in combinations(range(len(labels)), 2):
        assert (labels[i] == labels[j]) == (groups[i] == groups[j]), (i, j, groups[i], groups[j])


def rewrite_header(path: Path, old: str, new: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0].replace(old, new) + "".join(lines[1:]))


# --- GSV-Cities ---------------------------------------------------------------------------------------------


def test_gsv_cities_places_are_unique_across_cities(gsv: tuple[Path, dict]) -> None:
    root, expected = gsv
    index = DATA_FORMATS.build("gsv_cities").read(root, "train", FormatOptions())
    assert isinstance(index, PlaceIndex) and index.utm is None
    names = names_of(index.images)
    assert sorted(names) == sorted(expected["labels"])
    assert index.places.dtype == np.int64 and index.num_places == expected["places"] == 5
    assert sorted(set(index.places.tolist())) == list(range(5))  # dense
    assert_same_label_iff_same_group(index.places, [expected["labels"][n] for n in names])


def test_gsv_cities_names_follow_the_official_rule(gsv: tuple[Path, dict]) -> None:
    root, _ = gsv
    index = DATA_FORMATS.build("gsv_cities").read(root, "train", FormatOptions())
    assert README_EXAMPLE in names_of(index.images)
    assert all(index.images.paths[i].is_file() for i in range(len(index.images)))
    assert index.images.read(0).shape == (16, 24, 3)


def test_gsv_cities_reads_upper_case_suffixes(gsv: tuple[Path, dict]) -> None:
    root, expected = gsv
    for path in (root / "Images" / "PRS").iterdir():
        path.rename(path.with_suffix(".JPG"))
    index = DATA_FORMATS.build("gsv_cities").read(root, "train", FormatOptions())
    assert len(index.images) == expected["images"]
    assert all(index.images.paths[i].is_file() for i in range(len(index.images)))


def test_gsv_cities_option_selects_cities(gsv: tuple[Path, dict]) -> None:
    root, _ = gsv
    gsv_format = DATA_FORMATS.build("gsv_cities")
    index = gsv_format.read(root, "train", FormatOptions(cities=["PRS"]))
    assert len(index.images) == 4 and index.num_places == 2
    assert all(n.startswith("Images/PRS/") for n in names_of(index.images))
    with pytest.raises(UserError, match=r"no city 'Tokyo'.*available: London, PRS"):
        gsv_format.read(root, "train", FormatOptions(cities=["Tokyo"]))


def test_gsv_cities_summary(gsv: tuple[Path, dict]) -> None:
    root, _ = gsv
    assert (
        DATA_FORMATS.build("gsv_cities").summary(root, FormatOptions())
        == "GSV-Cities: 11 images of 5 places in 2 cities"
    )


def test_gsv_cities_is_not_a_test_set(gsv: tuple[Path, dict]) -> None:
    root, _ = gsv
    with pytest.raises(UserError, match="training set only.*gmberton or MSLS test set"):
        DATA_FORMATS.build("gsv_cities").read(root, None, FormatOptions())


def test_gsv_cities_missing_dataframes_csv(gsv: tuple[Path, dict]) -> None:
    root, _ = gsv
    for path in (root / "Dataframes").glob("*.csv"):
        path.unlink()
    assert not DATA_FORMATS.build("gsv_cities").detect(root, "train")
    with pytest.raises(UserError, match=rf"{root / 'Dataframes'} holds no <city>\.csv.*place_id,year,month"):
        DATA_FORMATS.build("gsv_cities").read(root, "train", FormatOptions())
    shutil.rmtree(root / "Dataframes")
    with pytest.raises(UserError, match=rf"{root / 'Dataframes'} not found"):
        DATA_FORMATS.build("gsv_cities").read(root, "train", FormatOptions())


def test_gsv_cities_missing_images_folder(gsv: tuple[Path, dict]) -> None:
    root, _ = gsv
    shutil.rmtree(root / "Images" / "London")
    with pytest.raises(UserError, match=r"image .*Images/London/London_0000130_2018_04_015_.*London\.csv"):
        DATA_FORMATS.build("gsv_cities").read(root, "train", FormatOptions())
    shutil.rmtree(root / "Images")
    with pytest.raises(UserError, match=rf"{root / 'Images'} not found"):
        DATA_FORMATS.build("gsv_cities").read(root, "train", FormatOptions())


def test_gsv_cities_wrong_csv_header(gsv: tuple[Path, dict]) -> None:
    root, _ = gsv
    rewrite_header(root / "Dataframes" / "PRS.csv", "panoid", "pano_id")
    with pytest.raises(UserError, match=r"PRS\.csv lacks column\(s\) panoid: expected a header place_id,"):
        DATA_FORMATS.build("gsv_cities").read(root, "train", FormatOptions())


# --- MSLS ---------------------------------------------------------------------------------------------------


def test_msls_training_groups_cells_within_each_city(msls: tuple[Path, dict]) -> None:
    root, expected = msls
    index = DATA_FORMATS.build("msls").read(root, "train", FormatOptions())
    assert isinstance(index, PlaceIndex)
    assert len(index.images) == expected["train_images"] == 14
    assert index.num_places == expected["train_places"] == 6
    assert sorted(set(index.places.tolist())) == list(range(6))
    cell = {}  # key -> (city, offset group); groups as laid out in the fixture (see MSLS_DATABASE)
    for city in expected["train"]:
        data = expected["cities"][city]
        for group, members in (
            ("a", [data["database"]["shots"][0], data["database"]["shots"][1], data["query"]["shots"][0]]),
            ("b", [data["database"]["shots"][2], data["database"]["shots"][3], data["query"]["shots"][1]]),
            ("c", [data["query"]["shots"][2]]),
        ):
            cell.update({key: (city, group) for key, _ in members})
    keys = [Path(n).stem for n in names_of(index.images)]
    assert sorted(keys) == sorted(cell)  # panoramas left out
    assert_same_label_iff_same_group(index.places, [cell[k] for k in keys])


def test_msls_training_positions_and_paths(msls: tuple[Path, dict]) -> None:
    root, expected = msls
    index = DATA_FORMATS.build("msls").read(root, "train", FormatOptions())
    names = names_of(index.images)
    first_key, first_utm = expected["cities"]["trondheim"]["database"]["shots"][0]
    assert names[0] == f"trondheim/database/images/{first_key}.jpg"
    np.testing.assert_allclose(index.utm[0], first_utm)
    nairobi_key, nairobi_utm = expected["cities"]["nairobi"]["query"]["shots"][1]
    i = names.index(f"nairobi/query/images/{nairobi_key}.jpg")
    np.testing.assert_allclose(index.utm[i], [nairobi_utm[0], nairobi_utm[1] + CITY_SPACING_M])
    assert all(index.images.paths[j].is_file() for j in range(len(names)))
    assert index.images.read(0).shape == (16, 24, 3)


def test_msls_place_cell_option(msls: tuple[Path, dict]) -> None:
    root, _ = msls
    index = DATA_FORMATS.build("msls").read(root, "train", FormatOptions(place_cell_m=10_000.0))
    assert index.num_places == 2  # one cell per city, never one for both


def test_msls_cities_option(msls: tuple[Path, dict]) -> None:
    root, _ = msls
    msls_format = DATA_FORMATS.build("msls")
    index = msls_format.read(root, "train", FormatOptions(cities=["nairobi"]))
    assert len(index.images) == 7 and index.num_places == 3
    assert all(n.startswith("nairobi/") for n in names_of(index.images))
    with pytest.raises(UserError, match=r"no city 'oslo'.*available: cph, nairobi, sf, trondheim"):
        msls_format.read(root, "train", FormatOptions(cities=["oslo"]))


def test_msls_summary(msls: tuple[Path, dict]) -> None:
    root, _ = msls
    assert (
        DATA_FORMATS.build("msls").summary(root, FormatOptions())
        == "Mapillary SLS: 14 images of 6 places in 2 cities (train)"
    )


def test_msls_val_merges_cph_and_sf_without_cross_city_positives(msls: tuple[Path, dict]) -> None:
    root, expected = msls
    msls_format = DATA_FORMATS.build("msls")
    assert msls_format.default_test_split == "val"
    index = msls_format.read(root, "val", FormatOptions())
    assert isinstance(index, RetrievalIndex)
    assert (len(index.database), len(index.queries)) == (8, 6)
    db_names, query_names = names_of(index.database), names_of(index.queries)
    for city in expected["val"]:
        panorama = expected["cities"][city]["database"]["panorama"]
        assert f"{city}/database/images/{panorama}.jpg" not in db_names
    cph_query, cph_query_utm = expected["cities"]["cph"]["query"]["shots"][0]
    assert query_names[0] == f"cph/query/images/{cph_query}.jpg"
    np.testing.assert_allclose(index.query_utm[0], cph_query_utm)
    positives = positives_within(index.database_utm, index.query_utm, 25.0)
    # Per city: query 0 -> database 0, 1; query 1 -> database 2, 3; query 2 -> none. sf shares cph's raw
    # coordinates, and still never matches a cph image.
    assert [p.tolist() for p in positives] == [[0, 1], [2, 3], [], [4, 5], [6, 7], []]
    assert all(index.database.paths[i].is_file() for i in range(len(index.database)))
    assert all(index.queries.paths[i].is_file() for i in range(len(index.queries)))


def test_msls_city_folder_is_a_test_set(msls: tuple[Path, dict]) -> None:
    root, expected = msls
    city = root / "train_val" / "sf"
    for split in (None, "val"):
        index = DATA_FORMATS.build("msls").read(city, split, FormatOptions())
        assert (len(index.database), len(index.queries)) == (4, 3)
        np.testing.assert_allclose(
            index.database_utm, [utm for _, utm in expected["cities"]["sf"]["database"]["shots"]]
        )
        key = expected["cities"]["sf"]["query"]["shots"][2][0]
        assert names_of(index.queries)[2] == f"query/images/{key}.jpg"
        assert index.queries.paths[2] == city / "query" / "images" / f"{key}.jpg"


def test_msls_val_needs_both_val_cities(msls: tuple[Path, dict]) -> None:
    root, _ = msls
    shutil.rmtree(root / "train_val" / "sf")
    with pytest.raises(UserError, match=rf"{root / 'train_val' / 'sf'} not found: MSLS val is cph \+ sf"):
        DATA_FORMATS.build("msls").read(root, "val", FormatOptions())


def test_msls_without_training_cities(msls: tuple[Path, dict]) -> None:
    root, _ = msls
    for city in ("trondheim", "nairobi"):
        shutil.rmtree(root / "train_val" / city)
    with pytest.raises(UserError, match=r"none of the MSLS training cities \(trondheim, london"):
        DATA_FORMATS.build("msls").read(root, "train", FormatOptions())


def test_msls_missing_csv(msls: tuple[Path, dict]) -> None:
    root, _ = msls
    raw = root / "train_val" / "nairobi" / "query" / "raw.csv"
    raw.unlink()
    with pytest.raises(UserError, match=rf"MSLS file {raw} not found"):
        DATA_FORMATS.build("msls").read(root, "train", FormatOptions())


def test_msls_missing_images_folder(msls: tuple[Path, dict]) -> None:
    root, _ = msls
    images = root / "train_val" / "cph" / "database" / "images"
    shutil.rmtree(images)
    with pytest.raises(UserError, match=rf"MSLS folder {images} not found"):
        DATA_FORMATS.build("msls").read(root, "val", FormatOptions())


def test_msls_wrong_csv_header(msls: tuple[Path, dict]) -> None:
    root, _ = msls
    postprocessed = root / "train_val" / "trondheim" / "database" / "postprocessed.csv"
    rewrite_header(postprocessed, "easting", "utm_east")
    with pytest.raises(
        UserError,
        match=rf"{postprocessed} lacks column\(s\) easting: expected a header "
        r",key,easting,northing",
    ):
        DATA_FORMATS.build("msls").read(root, "train", FormatOptions())


def test_msls_csvs_have_the_published_headers(msls: tuple[Path, dict]) -> None:
    root, _ = msls
    folder = root / "train_val" / "cph" / "query"
    headers = {p.name: next(csv.reader(p.open())) for p in folder.glob("*.csv")}
    assert headers["raw.csv"] == ["", "key", "lon", "lat", "ca", "captured_at", "pano"]
    assert headers["postprocessed.csv"][:4] == ["", "key", "easting", "northing"]
    assert set(headers) == {"raw.csv", "postprocessed.csv", "seq_info.csv", "subtask_index.csv"}


# --- detection ----------------------------------------------------------------------------------------------


def test_auto_detects_each_layout(gsv: tuple[Path, dict], msls: tuple[Path, dict], tmp_path: Path) -> None:
    assert find_format("vpr", "auto", gsv[0], "train").name == "gsv_cities"
    assert find_format("vpr", "auto", msls[0], "train").name == "msls"
    assert find_format("vpr", "auto", msls[0] / "train_val" / "cph", None).name == "msls"
    assert DATA_FORMATS.build("msls").detect(msls[0] / "train_val" / "cph", "val")
    gmberton = tmp_path / "gmberton"
    for folder, names in REAL_NAMES.items():
        target = gmberton / ("train" if folder == "train" else f"tokyo/{folder}")
        target.mkdir(parents=True)
        for name in names:
            (target / name).write_bytes(b"")
    assert find_format("vpr", "auto", gmberton, "train").name == "gmberton"
    assert find_format("vpr", "auto", gmberton / "tokyo", None).name == "gmberton"
