"""One sweep end to end through the real binary: two tiny runs, two at a time, through the detached queue."""

from __future__ import annotations

import time
from pathlib import Path

from engine.core.protocol import read_json
from engine.core.sweep import load_sweep
from tests.cli.conftest import tiny_overrides
from tests.cli.test_cli_e2e import labconsole


def test_sweep_runs_both_points_and_shows_them(tiny_city: Path, tmp_path: Path) -> None:
    done = labconsole(
        "sweep",
        "demo",
        *tiny_overrides(tiny_city, steps=2),
        "eval.test_sets=[]",  # the validation set alone: the table needs a metric, not four
        "optim.lr=1e-3,3e-3",
        "--parallel",
        "2",
        runs=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    sweep_id, *points = done.stdout.strip().splitlines()
    assert [p.split()[1] for p in points] == ["optim.lr=1e-3", "optim.lr=3e-3"]
    deadline = time.monotonic() + 150
    while load_sweep(tmp_path, sweep_id).status != "completed":
        assert time.monotonic() < deadline, (tmp_path / ".sweeps" / sweep_id / "queue.log").read_text()
        time.sleep(0.5)
    sweep = load_sweep(tmp_path, sweep_id)
    assert [p.status for p in sweep.points] == ["completed", "completed"]
    info = read_json(tmp_path / str(sweep.points[1].run_id) / "run.json")
    assert info["sweep"] == {
        "id": sweep_id,
        "name": "demo-sweep",
        "index": 1,
        "total": 2,
        "varied": {"optim.lr": "3e-3"},
    }
    shown = labconsole("sweep", "show", sweep_id, runs=tmp_path)
    assert shown.returncode == 0, shown.stderr
    rows = shown.stdout.splitlines()[2:]
    assert [row.split()[:2] for row in rows] == [["0*", "1e-3"], ["1", "3e-3"]]
    assert all("completed" in row for row in rows)
