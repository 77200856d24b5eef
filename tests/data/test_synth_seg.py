"""The synthetic segmentation and classification sets: deterministic bytes, layout, sizes, classes, rebuilds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.synth_cls import CLASSES as SHAPES
from engine.data.synth_cls import make_synth_cls
from engine.data.synth_seg import MANIFEST, SPLITS, make_synth_seg
from engine.data.synth_seg_scene import CLASSES, IGNORE

SMALL = dict(train_images=12, val_images=4, test_images=4)


def digest(root: Path) -> dict[str, str]:
    """Relative path -> sha1 of every image and mask under root."""
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.suffix in (".jpg", ".png")
    }


def test_same_seed_same_bytes_whatever_the_worker_count(tmp_path: Path) -> None:
    make_synth_seg(tmp_path / "a", seed=3, workers=1, **SMALL)
    make_synth_seg(tmp_path / "b", seed=3, workers=2, train_images=200, val_images=4, test_images=4)  # pool
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert all(b[name] == value for name, value in a.items())  # train_00000..11 are the first 12 of the 200


def test_another_seed_gives_other_scenes(tmp_path: Path) -> None:
    make_synth_seg(tmp_path / "a", seed=0, **SMALL)
    make_synth_seg(tmp_path / "b", seed=1, **SMALL)
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert a.keys() == b.keys() and sum(a[k] == b[k] for k in a) == 0


def test_layout_sizes_and_values(tmp_path: Path) -> None:
    summary = make_synth_seg(tmp_path, seed=0, image_size=(64, 96), **SMALL)
    assert json.loads((tmp_path / "classes.json").read_text()) == list(CLASSES)
    assert 6 <= len(CLASSES) <= 8 and summary["counts"] == {"train": 12, "val": 4, "fog": 4}
    assert summary["bytes"] < 2_000_000 and (tmp_path / MANIFEST).is_file()
    seen = np.zeros(256, bool)
    for split in SPLITS:
        images = sorted((tmp_path / split / "images").glob("*.jpg"))
        masks = sorted((tmp_path / split / "masks").glob("*.png"))
        assert [p.stem for p in images] == [p.stem for p in masks] and len(images) == summary["counts"][split]
        for image, mask in zip(images, masks):
            with Image.open(image) as img, Image.open(mask) as m:
                assert img.mode == "RGB" and img.size == (96, 64) and m.mode == "L" and m.size == (96, 64)
                values = np.asarray(m)
            seen[np.unique(values)] = True
    assert set(np.flatnonzero(seen)) <= set(range(len(CLASSES))) | {IGNORE}
    assert {CLASSES.index(c) for c in ("road", "sidewalk", "building", "sky")} <= set(np.flatnonzero(seen))


def test_fog_is_a_shift_of_the_same_world(tmp_path: Path) -> None:
    make_synth_seg(tmp_path, seed=0, train_images=4, val_images=16, test_images=16)

    def contrast(split: str) -> float:
        return float(
            np.mean(
                [
                    np.asarray(Image.open(p), np.float32).std()
                    for p in (tmp_path / split / "images").glob("*.jpg")
                ]
            )
        )

    assert contrast("fog") < 0.8 * contrast("val")


def test_complete_build_is_reused_and_other_params_rebuild(tmp_path: Path) -> None:
    first = make_synth_seg(tmp_path, seed=0, **SMALL)
    assert first["reused"] is False and make_synth_seg(tmp_path, seed=0, **SMALL)["reused"] is True
    again = make_synth_seg(tmp_path, seed=0, train_images=6, val_images=4, test_images=4)
    assert again["reused"] is False and len(list((tmp_path / "train" / "images").glob("*.jpg"))) == 6


def test_synth_cls_is_deterministic_image_folder(tmp_path: Path) -> None:
    summary = make_synth_cls(tmp_path / "a", seed=0, train_per_class=3, test_per_class=2)
    make_synth_cls(tmp_path / "b", seed=0, train_per_class=3, test_per_class=2)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "a" / "train").iterdir()) == sorted(SHAPES)
    assert summary["counts"] == {"train": 3 * len(SHAPES), "val": 2 * len(SHAPES), "noisy": 2 * len(SHAPES)}
    with Image.open(next((tmp_path / "a" / "noisy" / "ring").glob("*.jpg"))) as img:
        assert img.size == (64, 64) and img.mode == "RGB"


def test_synth_cls_rebuild_drops_classes_it_no_longer_makes(tmp_path: Path) -> None:
    make_synth_cls(tmp_path, seed=0, train_per_class=2, test_per_class=1)
    stale = tmp_path / "train" / "hexagon"
    stale.mkdir()
    (stale / "old.jpg").write_bytes(b"")
    assert make_synth_cls(tmp_path, seed=1, train_per_class=2, test_per_class=1)["reused"] is False
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == sorted(SHAPES)
