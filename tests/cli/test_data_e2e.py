"""Real data layouts through the real `labconsole` binary: what check finds, and bad data as one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.core.protocol import list_runs
from tests.cli.conftest import tiny_overrides
from tests.cli.test_seg_cls_e2e import _one_line_error, labconsole
from tests.data.fixtures_seg_formats import write_cityscapes, write_seg_folders
from tests.engine.seg_cls_data import seg_overrides


def test_check_says_what_it_found(tmp_path: Path) -> None:
    root = write_cityscapes(tmp_path / "cityscapes").root
    done = labconsole(
        "check",
        "seg_demo",
        *seg_overrides(root),
        "task.classes=null",
        "eval.val_sets=[]",
        "eval.test_sets=[{name: val, split: val}]",
        runs=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "data: Cityscapes: 3 train / 2 val images, 19 classes" in done.stderr  # check's report: stderr
    assert "test set val: Cityscapes: 2 images" in done.stderr


def test_a_wrong_layout_names_what_was_expected(tmp_path: Path) -> None:
    root = write_seg_folders(tmp_path / "folders")
    _one_line_error(
        labconsole(
            "run",
            "seg_demo",
            *seg_overrides(root),
            "data.format=cityscapes",
            "eval.val_sets=[]",
            "eval.test_sets=[{name: val, path: val}]",
            runs=tmp_path,
        ),
        "data.root",
        "is not a Cityscapes folder",
        "leftImg8bit/",
    )
    _one_line_error(
        labconsole(
            "check",
            "demo",
            f"data.root={tmp_path}",
            "data.synthetic=false",
            "eval.val_sets=[]",
            "eval.test_sets=[]",
            "data.format=voc",
            runs=tmp_path,
        ),
        "data.format",
        "'voc' is a segmentation format",
    )
    assert not list_runs(tmp_path)


def test_an_unreadable_image_fails_the_run_naming_it(tiny_city: Path, tmp_path: Path) -> None:
    city = tmp_path / "city"
    shutil.copytree(tiny_city / "train", city / "train")
    broken = sorted((city / "train").glob("*.jpg"))[5]
    broken.write_bytes(broken.read_bytes()[:200])  # a download cut short
    runs = tmp_path / "runs"
    done = labconsole(
        "run",
        "demo",
        *tiny_overrides(city, steps=30),
        "eval.val_sets=[]",
        "eval.test_sets=[]",
        "data.cache=off",
        "data.workers=1",
        runs=runs,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"cannot read image {broken}" in done.stderr
    (info,) = list_runs(runs)
    assert info["status"] == "failed" and broken.name in info["error"]
