"""The embedded synthetic VPR data set: a procedural city rendered into gmberton-format folders (numpy + Pillow)."""

from __future__ import annotations

import io
import multiprocessing
import os
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.synth_city import Street, make_street
from engine.data.synth_manifest import build_once, check_sizes, stored_summary
from engine.data.synth_render import FACADE_DISTANCE_M, Camera, render
from engine.data.synth_styles import STYLES

SPLITS = ("sim2real", "night", "sim2sim")  # test sets; all share one database and one set of query poses
VAL_SPLIT = "val"  # validation set: sim2real-style queries in a district of its own (never a test place)
TRAIN_STREET_M = 600.0
TEST_STREET_M = 400.0
TRAIN_ORIGIN = (550_000.0, 4_100_000.0)  # UTM-like metres (zone 33S); the test district lies 8 km east
TEST_ORIGIN = (558_000.0, 4_100_000.0)
VAL_ORIGIN = (566_000.0, 4_100_000.0)  # the validation district, 8 km east of the test one
MANIFEST = "synth_vpr.json"
_TRAIN, _TEST, _VAL = 1, 2, 3  # street namespaces: no district depends on the size of another
_QUERY_POSE = 7  # RNG code for query poses, shared by the three splits
_POOL_MIN_SHOTS = 400  # below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class SynthParams:
    """Everything that determines the files; stored in synth_vpr.json."""

    seed: int = 0
    train_places: int = 1520
    views_per_place: int = 6
    database_size: int = 500
    queries_per_split: int = 500
    image_size: tuple[int, int] = (64, 96)  # (H, W) of the stored JPEGs; loaders resize
    train_spacing_m: float = 30.0  # distance between neighbouring train places (> view width: no overlap)
    database_spacing_m: float = 5.0  # database images along the test streets
    query_offset_m: float = 4.0  # queries lie up to this far along the street from a database image
    val_database_size: int = 250
    val_queries: int = 250
    version: int = 6  # bump when the renderer changes, so old folders are rebuilt


@dataclass
class Shot:
    """One image to render: which street, the camera, the style, its RNG key and where to write it."""

    paths: list[str]
    street: tuple[int, int]  # (namespace, street index)
    camera: Camera
    style: str
    key: list[int] = field(default_factory=list)


def make_synth_vpr(
    root: Path,
    seed: int = 0,
    train_places: int = 1520,
    views_per_place: int = 6,
    database_size: int = 500,
    queries_per_split: int = 500,
    workers: int = 2,
    image_size: tuple[int, int] = (64, 96),
) -> dict:
    """Write the data set under `root` (reusing a complete one with the same parameters); return a summary.

    The summary (also stored in root/synth_vpr.json, written last) holds the parameters, the image counts per
    folder, the bytes written and the seconds taken; `reused` tells whether an existing build was kept.
    """
    check_sizes(
        "synthetic VPR city",
        {
            "train_places": train_places,
            "views_per_place": views_per_place,
            "database_size": database_size,
            "queries_per_split": queries_per_split,
            "workers": workers,
            "image height": image_size[0],
            "image width": image_size[1],
        },
    )
    params = SynthParams(
        seed,
        train_places,
        views_per_place,
        database_size,
        queries_per_split,
        (int(image_size[0]), int(image_size[1])),
        val_database_size=max(database_size // 2, 1),
        val_queries=max(queries_per_split // 2, 1),
    )
    root = Path(root)

    def write() -> dict:
        shots = _train_shots(root, params) + _test_shots(root, params) + _val_shots(root, params)
        for folder in {os.path.dirname(p) for shot in shots for p in shot.paths}:
            os.makedirs(folder, exist_ok=True)
        return {"counts": _counts(params), "bytes": _render_all(shots, params, workers)}

    return build_once(root, MANIFEST, params, _clear, write)


def is_complete(root: Path, seed: int = 0, train_places: int = 1520) -> bool:
    """Whether `root` holds a finished build of the default sizes from this generator version (with its
    validation district) for `seed` and `train_places`."""
    return stored_summary(Path(root), MANIFEST, SynthParams(seed=seed, train_places=train_places)) is not None


def _clear(root: Path) -> None:
    """Remove a stale manifest and the JPEGs of a previous (partial or different) build; nothing else."""
    (root / MANIFEST).unlink(missing_ok=True)
    folders = [root / "train"] + [
        root / s / sub for s in (*SPLITS, VAL_SPLIT) for sub in ("database", "queries")
    ]
    for folder in folders:
        for path in folder.glob("*.jpg") if folder.is_dir() else ():
            path.unlink()


def _counts(params: SynthParams) -> dict[str, int]:
    """Image counts per folder."""
    counts = {"train": params.train_places * params.views_per_place, "train_places": params.train_places}
    for split in SPLITS:
        counts[f"{split}/database"] = params.database_size
        counts[f"{split}/queries"] = params.queries_per_split
    counts[f"{VAL_SPLIT}/database"] = params.val_database_size
    counts[f"{VAL_SPLIT}/queries"] = params.val_queries
    return counts


# ---------------------------------------------------------------- layout: where every image is taken


@cache
def street_pose(namespace: int, index: int, seed: int) -> tuple[float, float, float]:
    """Origin (east, north) and heading (rad) of a street; streets are 150 m apart, so never neighbours."""
    rng = np.random.default_rng([seed, 100 + namespace, index])
    origin, length = (
        (TRAIN_ORIGIN, TRAIN_STREET_M)
        if namespace == _TRAIN
        else (VAL_ORIGIN if namespace == _VAL else TEST_ORIGIN, TEST_STREET_M)
    )
    row, col = divmod(index, 6)
    east = origin[0] + col * (length + 300.0)
    return east, origin[1] + row * 150.0, float(rng.uniform(-0.06, 0.06))


def _utm(street: tuple[int, int], s: float, lateral: float, seed: int) -> tuple[float, float]:
    """Coordinates of a camera `s` metres along a street and `lateral` metres towards its facades."""
    east, north, heading = street_pose(*street, seed)
    c, n = np.cos(heading), np.sin(heading)
    return round(east + s * c - lateral * n, 2), round(north + s * n + lateral * c, 2)


def _name(utm: tuple[float, float], ident: str) -> str:
    """A gmberton-style file name: @east@north@zone@band@lat@lon@id@@@@@yyyymm@@.jpg."""
    lat = 37.0 + (utm[1] - 4_096_000.0) / 110_950.0  # rough local inverse projection: display only
    lon = 15.0 + (utm[0] - 500_000.0) / 88_800.0
    return f"@{utm[0]:.2f}@{utm[1]:.2f}@33@S@{lat:.6f}@{lon:.6f}@{ident}@@@@@202406@@.jpg"


def _train_shots(root: Path, p: SynthParams) -> list[Shot]:
    """views_per_place jittered captures of every train place; all views share the place's coordinates."""
    per_street = int(TRAIN_STREET_M // p.train_spacing_m)
    shots = []
    for place in range(p.train_places):
        street = (_TRAIN, place // per_street)
        s = (place % per_street + 0.5) * p.train_spacing_m
        utm = _utm(street, s, 0.0, p.seed)
        rng = np.random.default_rng([p.seed, _TRAIN, place])  # the poses of this place's views
        for view in range(p.views_per_place):
            path = str(root / "train" / _name(utm, f"p{place:05d}v{view}"))
            shots.append(Shot([path], street, _jitter(rng, s, "train"), "clean", [p.seed, 11, place, view]))
    return shots


def _test_shots(root: Path, p: SynthParams) -> list[Shot]:
    """One database (written into every split) and, per split, queries near database images."""
    per_street = int(TEST_STREET_M // p.database_spacing_m)
    db_pos = [
        ((_TEST, i // per_street), (i % per_street + 0.5) * p.database_spacing_m)
        for i in range(p.database_size)
    ]
    shots = []
    for i, (street, s) in enumerate(db_pos):
        name = _name(_utm(street, s, 0.0, p.seed), f"db{i:05d}")
        paths = [str(root / split / "database" / name) for split in SPLITS]
        shots.append(Shot(paths, street, Camera(s), "clean", [p.seed, 12, i]))
    for j in range(p.queries_per_split):
        street, s = db_pos[j * p.database_size // max(p.queries_per_split, 1)]
        rng = np.random.default_rng([p.seed, _QUERY_POSE, j])
        s = float(np.clip(s + rng.uniform(-1, 1) * p.query_offset_m, 0.0, TEST_STREET_M))
        cam = _jitter(rng, s, "query")
        name = _name(_utm(street, cam.s, FACADE_DISTANCE_M - cam.distance, p.seed), f"q{j:05d}")
        for code, split in enumerate(SPLITS):
            path = str(root / split / "queries" / name)
            shots.append(
                Shot([path], street, cam, "clean" if split == "sim2sim" else split, [p.seed, 20 + code, j])
            )
    return shots


def _val_shots(root: Path, p: SynthParams) -> list[Shot]:
    """The validation district: its own database and sim2real-style queries near it (like a test set, no shared
    place, so choosing a checkpoint on it says nothing about the test sets' images)."""
    per_street = int(TEST_STREET_M // p.database_spacing_m)
    db_pos = [
        ((_VAL, i // per_street), (i % per_street + 0.5) * p.database_spacing_m)
        for i in range(p.val_database_size)
    ]
    folder = root / VAL_SPLIT
    shots = [
        Shot(
            [str(folder / "database" / _name(_utm(street, s, 0.0, p.seed), f"vdb{i:05d}"))],
            street,
            Camera(s),
            "clean",
            [p.seed, 13, i],
        )
        for i, (street, s) in enumerate(db_pos)
    ]
    for j in range(p.val_queries):
        street, s = db_pos[j * p.val_database_size // max(p.val_queries, 1)]
        rng = np.random.default_rng([p.seed, _QUERY_POSE + 1, j])
        s = float(np.clip(s + rng.uniform(-1, 1) * p.query_offset_m, 0.0, TEST_STREET_M))
        cam = _jitter(rng, s, "query")
        name = _name(_utm(street, cam.s, FACADE_DISTANCE_M - cam.distance, p.seed), f"vq{j:05d}")
        shots.append(Shot([str(folder / "queries" / name)], street, cam, "sim2real", [p.seed, 30, j]))
    return shots


def _jitter(rng: np.random.Generator, s: float, kind: str) -> Camera:
    """Camera pose noise: mild for train captures, stronger for queries (zoom, roll, yaw, pitch)."""
    if kind == "train":
        return Camera(
            s + rng.uniform(-4.0, 4.0),
            FACADE_DISTANCE_M + rng.uniform(-1.0, 1.0),
            rng.uniform(0.95, 1.2),
            rng.normal(0, 0.03),
            rng.uniform(-0.06, 0.06),
            rng.uniform(-0.04, 0.04),
        )
    return Camera(
        s,
        FACADE_DISTANCE_M + rng.uniform(-1.5, 1.5),
        rng.uniform(1.0, 1.2),
        rng.uniform(-0.06, 0.06),
        rng.uniform(-0.06, 0.06),
        rng.uniform(-0.04, 0.04),
    )


# ---------------------------------------------------------------- rendering in worker processes


def _render_all(shots: list[Shot], p: SynthParams, workers: int) -> int:
    """Render and write every shot, grouped by street (each worker builds a street once); returns bytes."""
    groups: dict[tuple[int, int], list[Shot]] = {}
    for shot in shots:
        groups.setdefault(shot.street, []).append(shot)
    jobs = [(p, chunk) for chunk in groups.values()]
    if workers <= 1 or len(shots) < _POOL_MIN_SHOTS:
        return sum(map(_render_group, jobs))
    # spawn, not fork: callers may already hold torch's thread pools, which fork can deadlock.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return sum(pool.imap_unordered(_render_group, jobs))


def _render_group(job: tuple[SynthParams, list[Shot]]) -> int:
    """Worker: render one street's shots and write them; returns the bytes written."""
    p, shots = job
    nbytes = 0
    for shot in shots:
        data = render_shot(p, shot)
        for path in shot.paths:
            Path(path).write_bytes(data)
            nbytes += len(data)
    return nbytes


def render_shot(p: SynthParams, shot: Shot) -> bytes:
    """The JPEG bytes of one shot; depends only on (params, shot), never on which process runs it."""
    rng = np.random.default_rng(shot.key)
    night = shot.style == "night"
    img = render(_street(p.seed, *shot.street), shot.camera, p.image_size, night, rng)
    img, quality = STYLES[shot.style](img, rng)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@lru_cache(maxsize=4)
def _street(seed: int, namespace: int, index: int) -> Street:
    """The street, built from its own RNG stream (cached: a worker renders a street's shots together)."""
    length = TRAIN_STREET_M if namespace == _TRAIN else TEST_STREET_M
    return make_street(np.random.default_rng([seed, namespace, index]), length)
