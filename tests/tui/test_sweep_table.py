"""The sweep table screen on a hand-made sweep: Delta against the baseline row, `b` moves the baseline, `s` stops
the sweep through request_sweep (after asking), a look that finds no file changed reads nothing; one snapshot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.tui.fixtures import frozen_clock, make_run, update_run, wait_for
from tests.tui.sweep_fixtures import make_sweep
from tui.app import LabConsoleApp
from tui.data.sweep_view import read_view
from tui.screens.confirm_sweep_stop import ConfirmSweepStop
from tui.screens.sweep_table import SweepTableScreen
from tui.widgets.sweep_runs_table import GROUP_KEY, SweepRunsTable

AXES = {"optim.lr": ["1e-3", "3e-3"], "model.aggregator": ["gem", "netvlad"]}
STATUSES = ["completed", "completed", "running", "queued"]
SCORES = [70.0, 82.0, 50.0, None]


def lr_sweep(runs_dir: Path) -> tuple[str, list[Path]]:
    """Four points: two done (R@1 70 and 82 on the first split), one running, one queued; and a run of its own."""
    make_run(runs_dir, "lonely-run", score=60.0, events=False)
    return make_sweep(runs_dir, "lr-sweep", AXES, STATUSES, SCORES)


def open_sweep_table() -> Callable[[Pilot[Any]], Any]:
    """Wait for the runs list, put the cursor on the sweep's group row, press w, wait for the table."""

    async def run_before(pilot: Pilot[Any]) -> None:
        table = pilot.app.screen.query_one(SweepRunsTable)
        await wait_for(pilot, lambda: len(table.all_rows) == 4)
        group = next(k for k in table.visible_ids if k.startswith(GROUP_KEY))
        while table.cursor_key != group:
            await pilot.press("down")
        await pilot.press("w")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, SweepTableScreen) and pilot.app.screen.view
        )

    return run_before


def delta_texts(screen: SweepTableScreen) -> list[str]:
    """The first Delta column, top to bottom."""
    grid = screen.query_one(DataTable)
    column = next(i for i, c in enumerate(grid.ordered_columns) if str(c.label).startswith("Δ"))
    return [str(grid.get_row_at(r)[column]) for r in range(grid.row_count)]


async def test_delta_against_the_baseline_and_b_moves_it(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    lr_sweep(runs_dir)
    app = LabConsoleApp(runs_dir, clock=frozen_clock, refresh_interval=0.05)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_sweep_table()(pilot)
        screen = app.screen
        assert isinstance(screen, SweepTableScreen) and screen.view is not None
        assert delta_texts(screen) == ["base", "+12.00", "-20.00", "—"]
        await pilot.press("down", "b")
        await wait_for(pilot, lambda: screen.view is not None and screen.view.table.baseline_index == 1)
        assert delta_texts(screen) == ["-12.00", "base", "-32.00", "—"]
        assert "Δ vs #1" in str(screen.query_one("#sweep-title").render())
        await pilot.press("x")  # every column, markdown and CSV, against the chosen baseline
        await wait_for(pilot, lambda: len(list(runs_dir.glob("exports/*/sweep-lr-sweep.*"))) == 2)
        markdown = next(runs_dir.glob("exports/*/sweep-lr-sweep.md")).read_text()
        assert "**82.00**" in markdown and "Δ against row 1" in markdown


async def test_stop_asks_then_writes_the_request(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    sweep_id, folders = lr_sweep(runs_dir)
    state_file = runs_dir / ".sweeps" / sweep_id / "state.json"
    app = LabConsoleApp(runs_dir, clock=frozen_clock, refresh_interval=0.05)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_sweep_table()(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSweepStop))
        await pilot.press("y")
        await wait_for(pilot, lambda: json.loads(state_file.read_text()).get("stop_requested") is True)
        state = json.loads(state_file.read_text())
        assert [p["status"] for p in state["points"]][3] == "skipped"  # the queued point never starts
        assert "stop" in (folders[2] / "control.jsonl").read_text()  # the running point was sent stop


def test_a_look_reads_again_only_when_a_file_changed(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    sweep_id, folders = lr_sweep(runs_dir)
    first = read_view(runs_dir, sweep_id, None, "best")
    assert first is not None and first.table.rows[1].values
    assert read_view(runs_dir, sweep_id, None, "best", first) is None
    update_run(folders[2], best={"pitts30k": {"R@1": 90.0}})
    again = read_view(runs_dir, sweep_id, None, "best", first)
    assert again is not None and again.table.rows[2].values[("pitts30k", "R@1")] == 90.0
    assert read_view(runs_dir, sweep_id, 1, "best", again) is not None  # another baseline: a new table


@pytest.fixture
def snapshot_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sweep under ./runs (the same title on every machine)."""
    lr_sweep(tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    return Path("runs")


def test_sweep_table_80x24(snap_compare: Any, snapshot_sweep: Path) -> None:
    app = LabConsoleApp(snapshot_sweep, clock=frozen_clock, refresh_interval=0.05)
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_sweep_table())
