"""`labconsole export RUN --figures`: every figure copied under a readable name with a markdown index; a run
without figures gets a note; image events naming files outside the run's figures/ are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from engine.core.export import collect_figures, figure_file
from engine.core.protocol import RunPaths
from tests.engine.conftest import tiny_city, tiny_overrides  # noqa: F401

BIN = Path(sys.executable).with_name("labconsole")


def labconsole(*args: str, runs: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200")
    return subprocess.run(
        [str(BIN), "--runs-dir", str(runs), *args], capture_output=True, text=True, timeout=300, env=env
    )


def train(runs: Path, city: Path, *extra: str) -> str:
    done = labconsole("run", "demo", *tiny_overrides(city, 2), *extra, runs=runs)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_export_figures_end_to_end(tiny_city: Path, tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "out"
    with_figures = train(runs, tiny_city, "--name", "figs")
    without = train(runs, tiny_city, "eval.figures=false", "--name", "plain")
    done = labconsole("export", with_figures, without, "--figures", "--no-plots", "--to", str(out), runs=runs)
    assert done.returncode == 0, done.stderr
    assert f"run {without} has no figures" in done.stderr and "Traceback" not in done.stderr
    folder = out / with_figures / "figures"
    names = sorted(p.name for p in folder.glob("*.png"))
    splits = ("val", "sim2real", "night", "sim2sim")
    assert names == sorted(f"step_{s:06d}-retrievals-{split}.png" for s in (0, 2) for split in splits)
    for name in names:
        assert str(folder / name) in done.stdout.splitlines()
        with Image.open(folder / name) as image:
            assert image.format == "PNG"
    index = (folder / "index.md").read_text()
    assert index.startswith("# Figures of figs") and "| step | split | figure | caption | file |" in index
    assert "| 2 | night | retrievals | 4 queries × top-5" in index
    assert "[step_000002-retrievals-night.png](step_000002-retrievals-night.png)" in index
    assert (out / without / "scalars.csv").is_file() and not (out / without / "figures").exists()


@pytest.mark.slow
def test_bad_figure_settings_are_one_line_config_errors(tiny_city: Path, tmp_path: Path) -> None:
    for override, words in (
        ("eval.figure_top_k=0", "must be ≥ 1"),
        ("eval.figure_samples=17", "must be ≤ 16"),
        ("eval.figures=maybe", "expected true or false"),
    ):
        done = labconsole("check", "demo", *tiny_overrides(tiny_city, 2), override, runs=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert (
            done.stderr.strip().count("\n") == 0
            and override.split("=")[0] in done.stderr
            and words in done.stderr
        )


@pytest.mark.parametrize(
    "raw",
    [
        "/etc/passwd",
        "../other/figures/a.png",
        "figures/../../x.png",
        "checkpoints/last.pt",
        "C:\\x.png",
        "",
        3,
    ],
)
def test_figure_paths_outside_the_figures_folder_are_refused(tmp_path: Path, raw: object) -> None:
    with pytest.raises(ValueError):
        figure_file(tmp_path, raw)


def test_collect_skips_refused_and_missing_figures_with_warnings(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "run")
    (paths.root / "figures" / "step_000001").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(paths.root / "figures" / "step_000001" / "confusion-val.png")
    (paths.root / "figures" / "escape.png").symlink_to(tmp_path / "secret.png")
    lines = [
        {"kind": "image", "step": 1, "split": "val", "tag": "confusion", "path": "figures/step_000001/confusion-val.png", "caption": "c"},
        {"kind": "image", "step": 1, "split": "val", "tag": "overlay", "path": "../secret.png", "caption": "x"},
        {"kind": "image", "step": 1, "split": "val", "tag": "overlay", "path": "figures/escape.png", "caption": "x"},
        {"kind": "image", "step": 2, "split": "val", "tag": "confusion", "path": "figures/step_000002/gone.png", "caption": "x"},
        {"kind": "image", "step": "2", "split": "val", "tag": "confusion", "path": "figures/a.png", "caption": "x"},
    ]  # fmt: skip
    paths.events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    figures, warnings = collect_figures(paths)
    assert [(f.step, f.tag, f.export_name) for f in figures] == [
        (1, "confusion", "step_000001-confusion-val.png")
    ]
    assert (
        len(warnings) == 4
        and any("climbs out" in w for w in warnings)
        and any("missing" in w for w in warnings)
    )
