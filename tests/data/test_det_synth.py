"""`labconsole data synth-det`: a small set the COCO reader takes, with boxes inside the images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.formats import FormatOptions, find_format
from engine.data.make_synthetic import main
from engine.data.synth_det import MANIFEST, SPLITS, is_complete, make_synth_det
from engine.data.synth_det_scene import CLASSES


def test_synth_det_makes_a_coco_set_with_boxes_inside_the_images(tmp_path: Path, capsys) -> None:
    assert main(["synth-det", str(tmp_path), "--train", "8", "--val", "4"]) == 0
    assert "made" in capsys.readouterr().out
    summary = json.loads((tmp_path / MANIFEST).read_text())
    assert summary["counts"] == {"train": 8, "val": 4, "dusk": 4} and summary["classes"] == list(CLASSES)
    seen = np.zeros(len(CLASSES), int)
    brightness = {}
    for split in SPLITS:
        chosen = find_format("detection", "auto", tmp_path, split)
        assert chosen.name == "coco" and chosen.classes(tmp_path, FormatOptions()) == list(CLASSES)
        index = chosen.read(tmp_path, split, FormatOptions())
        assert len(index.images) == summary["counts"][split] and index.num_boxes == summary["boxes"][split]
        height, width = np.asarray(Image.open(index.images.describe(0))).shape[:2]
        assert (height, width) == (160, 256)
        boxes = index.boxes
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= width).all() and (boxes[:, 3] <= height).all()
        assert ((boxes[:, 2:] - boxes[:, :2]) >= 2).all()
        seen += np.bincount(index.labels, minlength=len(CLASSES))
        brightness[split] = np.mean([index.images.read(i).mean() for i in range(len(index.images))])
    assert (seen > 0).all()  # cars, people and signs all occur
    assert brightness["dusk"] < 0.8 * brightness["val"]  # the shifted style is darker


def test_a_finished_build_is_reused_and_only_the_default_size_is_complete(tmp_path: Path) -> None:
    first = make_synth_det(tmp_path, seed=1, train_images=3, val_images=2, test_images=2)
    again = make_synth_det(tmp_path, seed=1, train_images=3, val_images=2, test_images=2)
    assert first["reused"] is False and again["reused"] is True
    assert not is_complete(tmp_path, seed=1)  # not the default size that data.synthetic makes
    smaller = make_synth_det(tmp_path, seed=1, train_images=2, val_images=2, test_images=2)
    assert smaller["reused"] is False and len(list((tmp_path / "train").glob("*.jpg"))) == 2
