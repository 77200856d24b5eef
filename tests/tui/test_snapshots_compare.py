"""Snapshot test of the compare screen on fixture runs (frozen clock, UTC)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.fixtures import frozen_clock, populate_runs, wait_for
from tui.app import LabConsoleApp
from tui.screens.compare import CompareScreen
from tui.widgets.compare_curves import CompareCurves
from tui.widgets.compare_table import CompareTable
from tui.widgets.curves import CurveChart


@pytest.fixture(autouse=True)
def chart_prefs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Charts chosen in the user's ~/.config must not change the snapshots."""
    monkeypatch.setenv("LABCONSOLE_CHART_PREFS", str(tmp_path / "charts.json"))


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


def test_compare_curves_120x32(snap_compare: Any, tmp_path: Path) -> None:
    runs = populate_runs(tmp_path / "runs")
    app = LabConsoleApp(tmp_path / "runs", clock=frozen_clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        app.open_compare([runs[name] for name in COMPARED])
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.runs))
        await pilot.press("3")
        curves = app.screen.query_one(CompareCurves)
        await wait_for(pilot, lambda: len(curves.query(CurveChart)) == 3 and curves.size.width > 0)
        await pilot.pause()
        curves.redraw()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 32), run_before=run_before)
