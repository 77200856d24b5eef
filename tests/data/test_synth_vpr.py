"""The synthetic city: deterministic bytes, gmberton folder format, positives for every query, rebuilds."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from engine.data.formats.gmberton import parse_utm
from engine.data.synth_vpr import MANIFEST, SPLITS, make_synth_vpr
from tests.data.conftest import SMALL


def digest(root: Path) -> dict[str, str]:
    """Relative path -> sha1 of every JPEG under root."""
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.jpg"))
    }


def test_same_seed_same_bytes_whatever_the_worker_count(small_city: Path, tmp_path: Path) -> None:
    make_synth_vpr(tmp_path, seed=0, workers=1, **SMALL)
    assert digest(tmp_path) == digest(small_city)


def test_another_seed_gives_other_images(small_city: Path, tmp_path: Path) -> None:
    make_synth_vpr(tmp_path, seed=1, workers=1, **SMALL)
    ours, theirs = digest(small_city), digest(tmp_path)
    assert len(ours) == len(theirs)
    assert sum(a == b for a, b in zip(ours.values(), theirs.values())) == 0


def test_folders_and_counts(small_city: Path) -> None:
    summary = json.loads((small_city / MANIFEST).read_text())
    assert len(list((small_city / "train").glob("*.jpg"))) == 80 * 4 == summary["counts"]["train"]
    for split in SPLITS:
        assert len(list((small_city / split / "database").glob("*.jpg"))) == 60
        assert len(list((small_city / split / "queries").glob("*.jpg"))) == 30
    assert summary["params"]["seed"] == 0 and summary["bytes"] > 0


def test_train_places_are_groups_of_identical_coordinates(small_city: Path) -> None:
    coords = [parse_utm(p) for p in (small_city / "train").glob("*.jpg")]
    _, counts = np.unique(np.array(coords), axis=0, return_counts=True)
    assert len(counts) == 80 and set(counts) == {4}
    east, north = np.array(coords).T
    assert east.min() > 500_000 and east.max() < 600_000 and 4_000_000 < north.min() < 4_200_000


def test_names_follow_the_gmberton_format(small_city: Path) -> None:
    name = next((small_city / "sim2real" / "queries").glob("*.jpg")).name
    fields = name.split("@")
    assert name.startswith("@") and name.endswith("@@.jpg") and len(fields) == 15
    assert fields[1] == f"{float(fields[1]):.2f}" and fields[3:5] == ["33", "S"]


def test_every_query_has_a_database_image_within_25_m(small_city: Path) -> None:
    for split in SPLITS:
        db = np.array([parse_utm(p) for p in (small_city / split / "database").glob("*.jpg")])
        queries = np.array([parse_utm(p) for p in (small_city / split / "queries").glob("*.jpg")])
        nearest = np.linalg.norm(queries[:, None] - db[None], axis=2).min(1)
        assert nearest.max() <= 25.0
        assert np.median(nearest) > 0.5  # queries are off the database poses, not copies of them


def test_database_neighbours_exist_within_the_radius(small_city: Path) -> None:
    db = np.array([parse_utm(p) for p in (small_city / "sim2sim" / "database").glob("*.jpg")])
    d = np.linalg.norm(db[:, None] - db[None], axis=2) + np.eye(len(db)) * 1e9
    assert np.all(d.min(1) < 25.0)


def test_split_databases_are_identical_and_queries_differ_in_style(small_city: Path) -> None:
    dbs = [digest(small_city / split / "database") for split in SPLITS]
    assert dbs[0] == dbs[1] == dbs[2]
    queries = [digest(small_city / split / "queries") for split in SPLITS]
    assert list(queries[0]) == list(queries[2])  # same poses, so same names
    assert not set(queries[0].values()) & set(queries[2].values())


def test_complete_folder_is_reused_and_partial_one_rebuilt(tmp_path: Path) -> None:
    tiny = dict(train_places=10, views_per_place=2, database_size=10, queries_per_split=5, workers=1)
    start = time.perf_counter()
    first = make_synth_vpr(tmp_path, **tiny)
    print(f"\ntiny build: {time.perf_counter() - start:.2f} s, {first['bytes'] / 1e3:.0f} kB")
    assert first["reused"] is False
    assert make_synth_vpr(tmp_path, **tiny)["reused"] is True
    (tmp_path / MANIFEST).unlink()  # as if interrupted before the manifest was written
    stray = tmp_path / "train" / "@1.00@2.00@33@S@0@0@stray@@@@@202406@@.jpg"
    stray.write_bytes(b"half-written")
    assert make_synth_vpr(tmp_path, **tiny)["reused"] is False
    assert not stray.exists() and len(list((tmp_path / "train").glob("*.jpg"))) == 20


def test_other_parameters_rebuild(tmp_path: Path) -> None:
    tiny = dict(train_places=10, views_per_place=2, database_size=10, queries_per_split=5, workers=1)
    make_synth_vpr(tmp_path, **tiny)
    again = make_synth_vpr(tmp_path, **{**tiny, "train_places": 12})
    assert again["reused"] is False and len(list((tmp_path / "train").glob("*.jpg"))) == 24
