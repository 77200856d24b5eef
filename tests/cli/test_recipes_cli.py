"""`labconsole recipes` through the real binary: the table whole when piped, --json, and a bad recipe name
refused with exit 2 and the list of recipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).with_name("labconsole")
VPR = "vpr_model_selection"


def labconsole(*args: str, runs: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [str(BIN), "--runs-dir", str(runs), *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_recipes_piped_is_the_whole_table(tmp_path: Path) -> None:
    done = labconsole("recipes", runs=tmp_path)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "TASK", "LOG", "SWEEP"] and "REAL VERSION NEEDS" in header
    (row,) = [r for r in rows if r.startswith(VPR + " ")]
    assert row.split()[1:4] == ["vpr", "000", "yes"] and "…" not in done.stdout
    assert "DINOv2-B/14 frozen + GeM + 512-d MLP projector" in row and "a CUDA GPU" in row  # not cut
    listed = json.loads(labconsole("recipes", "--json", runs=tmp_path).stdout)
    (info,) = [r for r in listed if r["name"] == VPR]
    assert info["log"] == "000" and info["sweep"]["config"] == VPR and info["real"]


def test_a_bad_recipe_name_exits_2_listing_the_recipes(tmp_path: Path) -> None:
    for source in ("vpr_model_selektion@real", "vpr_model_selektion"):
        done = labconsole("run", source, runs=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and VPR in done.stderr, done.stderr
    real = labconsole("run", f"{VPR}@real", f"data.root={tmp_path / 'gsv'}", runs=tmp_path)
    assert real.returncode == 2 and "folder not found" in real.stderr and "GSV-Cities" in real.stderr
    assert not list(tmp_path.iterdir())  # nothing created for a refused run
