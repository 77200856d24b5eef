"""compare --md/--csv and export tell the truth: percentage points, no float noise, names, the screen's rows,
untrained runs and runs of different tasks said as such, full names when piped."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tui.fixtures import FROZEN_NOW, HOUR, make_run

BIN = Path(sys.executable).with_name("labconsole")
LONG_NAME = "r50-gem-baseline-trained-for-a-very-long-time-on-pitts30k"


def labconsole(*args: str, runs: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="80")
    return subprocess.run(
        [str(BIN), "--runs-dir", str(runs), *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A long-named baseline with a noisy 80.00000000001, a candidate 68.2 points worse, an untrained run."""
    runs = tmp_path / "runs"
    splits = ["pitts30k"]
    make_run(
        runs,
        LONG_NAME,
        run_id="b-1",
        metrics={"pitts30k": {"R@1": 80.00000000001, "R@5": 90.0}},
        max_steps=40,
        splits=splits,
        duration=HOUR,
        started=FROZEN_NOW - 5 * HOUR,
    )
    make_run(
        runs,
        "cand",
        run_id="c-2",
        metrics={"pitts30k": {"R@1": 11.8, "R@5": 90.1}},
        max_steps=40,
        splits=splits,
        duration=2 * HOUR,
        started=FROZEN_NOW - 3 * HOUR,
    )
    make_run(
        runs,
        "zero",
        run_id="z-3",
        metrics={"pitts30k": {"R@1": 1.5, "R@5": 4.0}},
        max_steps=0,
        steps=0,
        splits=splits,
    )
    make_run(runs, "seg", run_id="s-4", task="segmentation", max_steps=40)
    return runs


def test_markdown_has_points_names_ids_and_the_screens_rows(runs: Path) -> None:
    done = labconsole("compare", "b-1", "c-2", "--md", runs=runs)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Baseline: **{LONG_NAME}**; candidate: **cand**"
    assert "| pitts30k R@1 | **80.00%** | 11.80% | -68.20 pp |" in lines
    assert "| pitts30k R@5 | 90.00% | **90.10%** | +0.10 pp |" in lines  # not 0.09999999999999432
    assert "| train time | 1h 00m | 2h 00m | +1h 00m |" in lines
    assert any(line.startswith("| peak memory |") for line in lines)
    assert lines[-1] == f"Run ids: {LONG_NAME} = `b-1`, cand = `c-2`."
    assert "0000000" not in done.stdout and "%  |" not in done.stdout


def test_csv_has_units_and_rounded_numbers(runs: Path) -> None:
    done = labconsole("compare", "b-1", "c-2", "--csv", runs=runs)
    rows = list(csv.reader(done.stdout.splitlines()))
    assert rows[0] == ["split", "metric", "unit", "delta unit", LONG_NAME, "cand", "delta cand"]
    assert rows[1] == ["pitts30k", "R@1", "%", "pp", "80.00", "11.80", "-68.20"]
    assert rows[2] == ["pitts30k", "R@5", "%", "pp", "90.00", "90.10", "+0.10"]
    assert ["", "train time", "s", "s", "3600", "7200", "+3600"] in rows


def test_piped_table_shows_full_names(runs: Path) -> None:
    done = labconsole("compare", "b-1", "c-2", runs=runs)
    assert done.returncode == 0, done.stderr
    assert LONG_NAME in done.stdout and "…" not in done.stdout and "-68.20 pp" in done.stdout


def test_untrained_run_and_other_task_are_said(runs: Path) -> None:
    done = labconsole("compare", "b-1", "z-3", "s-4", "--md", runs=runs)
    assert done.returncode == 0, done.stderr
    assert "**zero — step 0 (untrained)**" in done.stdout.splitlines()[0]
    assert "run zero was evaluated at step 0 only (untrained)" in done.stderr
    assert "different tasks (vpr: " in done.stderr and "segmentation: seg" in done.stderr
    assert "> Warning: the runs are of different tasks" in done.stdout
    as_json = json.loads(labconsole("compare", "b-1", "z-3", "--format", "json", runs=runs).stdout)
    assert as_json["untrained"] == ["z-3"] and as_json["names"]["b-1"] == LONG_NAME


def test_export_writes_true_comparison_and_evals(runs: Path, tmp_path: Path) -> None:
    with (runs / "b-1" / "events.jsonl").open("a", encoding="utf-8") as events:
        events.write(
            json.dumps(
                {
                    "t": FROZEN_NOW,
                    "kind": "eval",
                    "step": 40,
                    "split": "pitts30k",
                    "metrics": {"R@1": 80.00000000001},
                }
            )
            + "\n"
        )
    out = tmp_path / "out"
    done = labconsole("export", "b-1", "c-2", "--to", str(out), "--no-plots", runs=runs)
    assert done.returncode == 0, done.stderr
    markdown = (out / "comparison.md").read_text()
    assert "-68.20 pp" in markdown and LONG_NAME in markdown and "| train time |" in markdown
    assert (out / "comparison.csv").read_text().splitlines()[1] == "pitts30k,R@1,%,pp,80.00,11.80,-68.20"
    evals = (out / "b-1" / "evals.csv").read_text()
    assert "40,pitts30k,R@1,80.00" in evals and "0000000" not in evals
