"""Data fixtures: one small synthetic city per session, and a hand-made folder with real-format names."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Enough shots (4*80 train + 60 database + 3*30 queries) to use the worker pool.
SMALL = dict(train_places=80, views_per_place=4, database_size=60, queries_per_split=30)


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small city built with two worker processes."""
    from engine.data.synth_vpr import make_synth_vpr

    root = tmp_path_factory.mktemp("city")
    start = time.perf_counter()
    summary = make_synth_vpr(root, seed=0, workers=2, **SMALL)
    print(f"\nsmall synthetic city: {summary['counts']}, {time.perf_counter() - start:.2f} s")
    return root


# Names as in gmberton's sf_xs / tokyo_xs folders (a panorama id, then empty fields and a yyyymm date).
REAL_NAMES = {
    "train": [
        "@0543256.96@4178906.70@10@S@037.75902@-122.50632@lsTvDsWTMFnnVhqYVD4kVA@@@@@201311@@.jpg",
        "@0543256.96@4178906.70@10@S@037.75902@-122.50632@abcdefghijklmnopqrstuv@@@@@201511@@.jpg",
        "@0543261.12@4178911.33@10@S@037.75906@-122.50627@zzTvDsWTMFnnVhqYVD4kVA@@@@@201408@@.jpg",
        "@0549999.00@4179999.00@10@S@037.76890@-122.43220@qqTvDsWTMFnnVhqYVD4kVA@@@@@201608@@.jpg",
    ],
    "database": [
        "@0385938.83@3951520.85@54@S@035.69896@139.74258@xyzpanoid000000000000@@@@@201210@@.jpg",
        "@0385958.21@3951522.10@54@S@035.69898@139.74280@xyzpanoid000000000001@@@@@201210@@.jpg",
    ],
    "queries": ["@0385945.00@3951521.00@54@S@035.69897@139.74265@q0001@@@@@@@.jpg"],
}


def write_image(path: Path, size: tuple[int, int], seed: int) -> None:
    """A random RGB JPEG of (H, W) = size."""
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)


@pytest.fixture
def real_format(tmp_path: Path) -> Path:
    """train/ plus a test set (database/, queries/) of random images of mixed sizes with real-format names."""
    sizes = [(480, 640), (512, 512), (120, 90), (64, 96)]
    for folder, names in REAL_NAMES.items():
        target = tmp_path / ("train" if folder == "train" else f"tokyo/{folder}")
        target.mkdir(parents=True)
        for i, name in enumerate(names):
            write_image(target / name, sizes[i % len(sizes)], seed=i)
    return tmp_path
