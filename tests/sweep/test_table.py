"""The sweep table on hand-made run folders: columns from run.json, deltas against the baseline, best per column."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from engine.core.errors import UserError
from engine.core.sweep import list_sweeps, load_sweep
from engine.core.sweep.table import build_sweep_table, to_csv, to_markdown
from tests.sweep.fake_sweep import make_sweep

AXES = {"model.aggregator": ["gem", "netvlad"], "optim.lr": ["1e-3", "3e-3"]}


def result(r1: float, r5: float, night: float | None = None) -> dict:
    out = {"pitts": {"R@5": r5, "R@1": r1}}  # stored out of order: the runs' metric order decides
    if night is not None:
        out["night"] = {"R@1": night, "R@5": night + 10}
    return out


@pytest.fixture
def sweep(tmp_path: Path) -> tuple[Path, str]:
    paths = make_sweep(
        tmp_path,
        AXES,
        [result(80.0, 90.0, 40.0), result(82.5, 91.0, 38.0), result(79.0, 92.0), None],
        statuses=["completed", "completed", "failed", "queued"],
    )
    return tmp_path, paths.sweep_id


def test_columns_deltas_and_best(sweep: tuple[Path, str]) -> None:
    runs, sweep_id = sweep
    table = build_sweep_table(runs, sweep_id)
    assert table.key_columns == ["model.aggregator", "optim.lr"]
    assert table.metric_columns == [("pitts", "R@1"), ("pitts", "R@5"), ("night", "R@1"), ("night", "R@5")]
    assert [r.status for r in table.rows] == ["completed", "completed", "failed", "queued"]
    assert table.rows[1].deltas[("pitts", "R@1")] == pytest.approx(2.5)
    assert table.rows[2].deltas[("pitts", "R@5")] == pytest.approx(2.0)
    assert ("night", "R@1") not in table.rows[2].deltas  # no value, no delta
    assert table.best == {("pitts", "R@1"): 1, ("pitts", "R@5"): 2, ("night", "R@1"): 0, ("night", "R@5"): 0}
    assert table.percent[("pitts", "R@1")]
    other = build_sweep_table(runs, sweep_id, baseline_index=1)
    assert other.rows[0].deltas[("pitts", "R@1")] == pytest.approx(-2.5)


def test_markdown_bold_best_and_delta_after_main_metric(sweep: tuple[Path, str]) -> None:
    runs, sweep_id = sweep
    text = to_markdown(build_sweep_table(runs, sweep_id))
    lines = text.splitlines()
    assert lines[0].startswith(
        "| # | model.aggregator | optim.lr | pitts R@1 | Δ R@1 (pp) | pitts R@5 | night R@1"
    )
    assert lines[2].startswith("| 0 (baseline) | gem | 1e-3 | 80.00 | — | 90.00 |")
    assert "| 1 | gem | 3e-3 | **82.50** | +2.50 | 91.00 |" in lines[3]
    assert "| 3 | netvlad | 3e-3 | — | — |" in lines[5] and lines[5].endswith("| queued | — |")


def test_csv_has_every_delta(sweep: tuple[Path, str]) -> None:
    runs, sweep_id = sweep
    rows = list(csv.DictReader(io.StringIO(to_csv(build_sweep_table(runs, sweep_id)))))
    assert rows[0]["baseline"] == "yes" and rows[1]["delta pitts/R@5"] == "+1.00"
    assert rows[2]["night/R@1"] == "" and rows[3]["status"] == "queued" and rows[3]["run_id"] == ""


def test_final_values_and_bad_arguments(sweep: tuple[Path, str]) -> None:
    runs, sweep_id = sweep
    assert build_sweep_table(runs, sweep_id, use="final").rows[0].values[("pitts", "R@1")] == 80.0
    with pytest.raises(UserError, match="points are 0 to 3"):
        build_sweep_table(runs, sweep_id, baseline_index=7)
    with pytest.raises(UserError, match="no sweep 'nope'"):
        build_sweep_table(runs, "nope")


def test_readers_list_and_load(sweep: tuple[Path, str]) -> None:
    runs, sweep_id = sweep
    (listed,) = list_sweeps(runs)
    assert listed.id == sweep_id and listed.total == 4 and listed.finished == 3
    assert listed.status == "interrupted"  # a point left and no queue to run it: `sweep resume` restarts one
    assert load_sweep(runs, sweep_id).points[0].varied == {"model.aggregator": "gem", "optim.lr": "1e-3"}


def test_training_time_column(sweep: tuple[Path, str]) -> None:
    runs, sweep_id = sweep
    table = build_sweep_table(runs, sweep_id)
    first = runs / (table.rows[0].run_id or "")
    info = json.loads((first / "run.json").read_text())
    info.update(train_seconds=187.4)
    (first / "run.json").write_text(json.dumps(info))
    second = runs / (table.rows[1].run_id or "")
    info = json.loads((second / "run.json").read_text())
    info.update(started=1000.0, ended=4900.0)  # no train_seconds: the run's wall time
    (second / "run.json").write_text(json.dumps(info))
    table = build_sweep_table(runs, sweep_id)
    assert [r.train_seconds for r in table.rows] == [187.4, 3900.0, None, None]
    lines = to_markdown(table).splitlines()
    assert "| train time | status | run |" in lines[0] and "| 3m 07s | completed |" in lines[2]
    assert "| 1h 05m | completed |" in lines[3]
    rows = list(csv.DictReader(io.StringIO(to_csv(table))))
    assert [r["train_seconds"] for r in rows] == ["187.4", "3900.0", "", ""]
