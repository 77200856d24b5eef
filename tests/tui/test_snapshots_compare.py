"""Snapshot test of the compare screen on fixture runs (frozen clock, UTC)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tests.tui.fixtures import frozen_clock, populate_runs, wait_for
from tui.app import LabConsoleApp
from tui.screens.compare import CompareScreen
from tui.widgets.compare_table import CompareTable

COMPARED = ("r50-gem-baseline", "convnext-gem-ms", "r50-netvlad-cosface")
"""Three VPR runs: a finished baseline, a live run and an interrupted one."""


def test_compare_screen_120x32(snap_compare: Any, tmp_path: Path) -> None:
    runs = populate_runs(tmp_path / "runs")
    app = LabConsoleApp(tmp_path / "runs", clock=frozen_clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        app.open_compare([runs[name] for name in COMPARED])
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.runs))
        table = app.screen.query_one(CompareTable)
        await wait_for(pilot, lambda: table.row_count > 0 and table.size.width > 0)  # filled and laid out

    assert snap_compare(app, terminal_size=(120, 32), run_before=run_before)
