"""Segmentation and classification through the real `labconsole` binary: run, check, data, and error exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.protocol import list_runs, read_json
from tests.engine.seg_cls_data import cls_overrides, seg_overrides, tiny_cls, tiny_seg  # noqa: F401

BIN = Path(sys.executable).with_name("labconsole")


def labconsole(*args: str, runs: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200")
    return subprocess.run(
        [str(BIN), "--runs-dir", str(runs), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def _one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.mark.slow
def test_segmentation_run_completes_with_miou(tiny_seg: Path, tmp_path: Path) -> None:
    done = labconsole("run", "seg_demo", *seg_overrides(tiny_seg, steps=2), runs=tmp_path)
    assert done.returncode == 0, done.stderr
    (info,) = list_runs(tmp_path)
    assert info["status"] == "completed" and info["task"] == "segmentation" and info["progress"]["step"] == 2
    assert set(info["final"]) == {"val", "fog"} and "mIoU" in info["best"]["val"]
    assert {"mIoU", "pixel_acc", "IoU/road"} <= set(info["final"]["fog"])
    assert "mIoU" in done.stdout and "fog" in done.stdout
    assert (tmp_path / info["id"] / "checkpoints" / "last.pt").is_file()


@pytest.mark.slow
def test_classification_run_completes_with_top1(tiny_cls: Path, tmp_path: Path) -> None:
    done = labconsole("run", "cls_demo", *cls_overrides(tiny_cls, steps=2), runs=tmp_path)
    assert done.returncode == 0, done.stderr
    run_json = read_json(tmp_path / done.stdout.strip().splitlines()[-1] / "run.json")
    assert run_json["status"] == "completed" and set(run_json["final"]) == {"val", "noisy"}
    assert {"top1", "top5"} == set(run_json["final"]["val"]) and "top1" in run_json["best"]["noisy"]


@pytest.mark.slow
def test_check_prints_parameters_and_output_size(tiny_seg: Path, tiny_cls: Path, tmp_path: Path) -> None:
    done = labconsole("check", "seg_demo", *seg_overrides(tiny_seg), runs=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (
        "parameters" in done.stderr and "head" in done.stderr and "logits: 8 classes × 64×96" in done.stderr
    )
    as_json = json.loads(
        labconsole("check", "seg_demo", *seg_overrides(tiny_seg), "--json", runs=tmp_path).stdout
    )
    assert [row["group"] for row in as_json["model"]["parameters"]] == ["backbone", "head", "total"]
    cls = json.loads(
        labconsole("check", "cls_demo", *cls_overrides(tiny_cls), "--json", runs=tmp_path).stdout
    )
    assert (
        cls["model"]["output"].startswith("logits: 8 classes")
        and cls["config"]["task"]["name"] == "classification"
    )


def test_config_errors_exit_2_with_one_line(tiny_seg: Path, tmp_path: Path) -> None:
    _one_line_error(
        labconsole("run", "seg_demo", *seg_overrides(tiny_seg), "loss=cee", runs=tmp_path),
        "loss",
        "did you mean 'ce'",
    )
    _one_line_error(
        labconsole(
            "run", "seg_demo", *seg_overrides(tiny_seg), f"data.root={tmp_path / 'missing'}", runs=tmp_path
        ),
        "data.root",
        "folder not found",
    )
    _one_line_error(
        labconsole(
            "run",
            "seg_demo",
            *seg_overrides(tiny_seg),
            "eval.test_sets=[{name: bad, path: train/images}]",
            runs=tmp_path,
        ),
        "eval.test_sets[0].path",
        "images/ and masks/",
    )
    assert not list(tmp_path.glob("*-seg_demo"))  # nothing created for a config the CLI could reject


@pytest.mark.slow
def test_engine_side_config_error_fails_the_run_with_exit_2(tiny_seg: Path, tmp_path: Path) -> None:
    done = labconsole("run", "seg_demo", *seg_overrides(tiny_seg), "loss=multi_similarity", runs=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "loss.name" in done.stderr
    (info,) = list_runs(tmp_path)
    assert info["status"] == "failed" and "'multi_similarity' is a loss on descriptors" in info["error"]


def test_data_synth_seg_and_cls(tmp_path: Path) -> None:
    seg = labconsole("data", "synth-seg", str(tmp_path / "seg"), "--train", "4", "--val", "2", runs=tmp_path)
    assert seg.returncode == 0, seg.stderr
    assert len(list((tmp_path / "seg" / "fog" / "masks").glob("*.png"))) == 2
    cls = labconsole("data", "synth-cls", str(tmp_path / "cls"), "--train", "2", "--val", "1", runs=tmp_path)
    assert cls.returncode == 0, cls.stderr
    assert len(list((tmp_path / "cls" / "noisy").glob("*/*.jpg"))) == 8
