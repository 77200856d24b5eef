"""Piped output is whole: every verb run through the real binary with stdout a pipe (not a terminal) and parsed.

Rich crops to 80 columns with an ellipsis when stdout is not a terminal; the CLI must not (issue 12): a piped
`ls` keeps ids and statuses whole, `check > f.yaml` is a loadable YAML equal to the resolved config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.core.config import resolve_config
from tests.cli.conftest import tiny_overrides
from tests.tui.fixtures import make_run

BIN = Path(sys.executable).with_name("labconsole")

LONG_NAMES = ("steering-sweep-lr3e-4-batch128-resnet50-gem-multisimilarity", "baseline-of-the-long-sweep")
"""Run names far past 80 columns once in a table row with the id, status and metric beside them."""

LONG_SPLIT = "tokyo247-night-and-rain-queries-against-the-daytime-database"


def piped(*args: str, runs: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real `labconsole` with stdout and stderr pipes; COLUMNS unset, so no width is handed to rich."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["HF_HUB_OFFLINE"] = "1"
    done = subprocess.run(
        [str(BIN), "--runs-dir", str(runs), *args],
        capture_output=True,  # stdout is a pipe, not a terminal
        text=True,
        timeout=timeout,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout, done.stdout
    return done


@pytest.fixture(scope="module")
def fabricated_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Two completed VPR runs with long names and a long test-set name, and one failed run (no training)."""
    runs = tmp_path_factory.mktemp("piped-runs")
    splits = ("pitts30k", LONG_SPLIT)
    folders = [
        make_run(runs, LONG_NAMES[0], splits=splits, score=81.25),
        make_run(runs, LONG_NAMES[1], splits=splits, score=77.5, started=1_759_990_000.0),
        make_run(runs, "diverged", "failed", error="loss became nan at step 412 " + "(lr too high) " * 8),
    ]
    return runs, folders


def test_check_piped_is_the_resolved_yaml_alone(tiny_city: Path, tmp_path: Path) -> None:
    overrides = [*tiny_overrides(tiny_city), "train.grad_accum_steps=2", f"description={'long text ' * 20}"]
    done = piped("check", "demo", *overrides, runs=tmp_path)
    assert yaml.safe_load(done.stdout) == resolve_config("demo", overrides)
    assert "parameters" in done.stderr and "config OK" in done.stderr  # the report, off stdout
    assert "global batch: 8 images × 2 accumulated = 16 images per step" in done.stderr


def test_ls_piped_keeps_every_id_name_and_status_whole(fabricated_runs: tuple[Path, list[Path]]) -> None:
    runs, folders = fabricated_runs
    lines = piped("ls", runs=runs).stdout.splitlines()
    for folder in folders:
        info = json.loads((folder / "run.json").read_text())
        (row,) = [line for line in lines if line.split()[:1] == [info["id"]]]
        fields = row.split()
        assert fields[1] == info["name"] and fields[2] == info["status"]
    listed = json.loads(piped("ls", "--json", runs=runs).stdout)
    assert sorted(r["id"] for r in listed) == sorted(f.name for f in folders)


def test_show_piped_keeps_full_values(fabricated_runs: tuple[Path, list[Path]]) -> None:
    runs, folders = fabricated_runs
    info = json.loads((folders[0] / "run.json").read_text())
    out = piped("show", info["id"], runs=runs).stdout
    assert LONG_NAMES[0] in out and info["id"] in out and "completed" in out
    facts = next(line for line in out.splitlines() if line.startswith("task "))
    assert "backbone resnet50" in facts and "aggregator gem" in facts and "started 20" in facts
    rows = {line.split()[0].strip("│┃ "): line for line in out.splitlines() if LONG_SPLIT in line}
    assert rows, out
    for title, block in (("final", info["final"]), ("best", info["best"])):
        for metric, value in block[LONG_SPLIT].items():
            assert f"{value:.2f}" in out and metric in out, (title, metric)
    failed = json.loads((folders[2] / "run.json").read_text())
    assert failed["error"] in piped("show", failed["id"], runs=runs).stdout
    as_json = json.loads(piped("show", info["id"], "--json", runs=runs).stdout)
    assert as_json["run"]["id"] == info["id"]


def test_compare_piped_keeps_full_names(tmp_path: Path) -> None:
    ids = [
        make_run(tmp_path, f"candidate-{i}-with-a-long-descriptive-name", score=70.0 + i).name
        for i in range(4)
    ]
    out = piped("compare", *ids, runs=tmp_path).stdout
    for run_id in ids:
        assert run_id in out
    markdown = piped("compare", *ids, "--format", "markdown", runs=tmp_path).stdout
    assert all(f"`{run_id}`" in markdown for run_id in ids)
