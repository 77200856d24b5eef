"""Snapshot tests of the runs screen on the fixture runs directory (frozen clock, UTC, relative runs path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.fixtures import frozen_clock, populate_runs, wait_for
from tui.app import LabConsoleApp
from tui.widgets.run_summary import RunSummary
from tui.widgets.runs_table import RunsTable


@pytest.fixture
def snapshot_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture runs under ./runs, so the title shows the same path on every machine."""
    populate_runs(tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    return Path("runs")


def loaded_then(*keys: str) -> Callable[[Pilot[Any]], Any]:
    """A run_before hook: wait for the first scan, then press `keys`."""

    async def run_before(pilot: Pilot[Any]) -> None:
        table = pilot.app.screen.query_one(RunsTable)
        summary = pilot.app.screen.query_one(RunSummary)
        await wait_for(pilot, lambda: len(table.all_rows) == 9)
        await pilot.press(*keys)
        await wait_for(
            pilot, lambda: table.selected is not None and table.selected.name in str(summary.render())
        )

    return run_before


def test_runs_screen_120x32(snap_compare: Any, snapshot_runs: Path) -> None:
    app = LabConsoleApp(snapshot_runs, clock=frozen_clock)
    assert snap_compare(app, terminal_size=(120, 32), run_before=loaded_then("down", "down", "down"))


def test_runs_screen_80x24(snap_compare: Any, snapshot_runs: Path) -> None:
    app = LabConsoleApp(snapshot_runs, clock=frozen_clock)
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded_then("down", "down"))


def test_runs_screen_filtered_light_80x24(snap_compare: Any, snapshot_runs: Path) -> None:
    app = LabConsoleApp(snapshot_runs, clock=frozen_clock)
    assert snap_compare(
        app, terminal_size=(80, 24), run_before=loaded_then("ctrl+t", "slash", *"gem", "enter")
    )
