"""The compare screen's curves under Pilot: picker and persistence, cursor readout, log y, x axes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import SelectionList, TabbedContent

from tests.tui.fixtures import frozen_clock, make_run, wait_for
from tui.data.downsample import ema
from tui.screens.compare import CompareScreen
from tui.screens.series_picker import SeriesPicker
from tui.widgets.compare_curves import CompareCurves
from tui.widgets.curves import CurveChart, CurvePlot, fmt_exact


@pytest.fixture(autouse=True)
def chart_prefs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the charts chosen in tests out of the user's ~/.config."""
    path = tmp_path / "charts.json"
    monkeypatch.setenv("LABCONSOLE_CHART_PREFS", str(path))
    return path


class CompareApp(App[None]):
    def __init__(self, dirs: list[Path]) -> None:
        super().__init__()
        self.clock = frozen_clock
        self.dirs = dirs

    def on_mount(self) -> None:
        self.push_screen(CompareScreen(self.dirs))


@pytest.fixture
def two(tmp_path: Path) -> list[Path]:
    runs = tmp_path / "runs"
    return [
        make_run(runs, "base", "completed", max_steps=2_000),
        make_run(runs, "cand", "completed", backbone="convnext_tiny", max_steps=2_000, score=82.0),
    ]


async def curves_shown(pilot: Pilot[Any]) -> CompareCurves:
    """Wait for the runs, show the curves tab and wait for its charts."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and bool(pilot.app.screen.runs))
    await pilot.press("3")
    curves = pilot.app.screen.query_one(CompareCurves)
    await wait_for(pilot, lambda: bool(curves.query(CurveChart)) and curves.size.width > 0)
    await pilot.pause()
    return curves


def legend(curves: CompareCurves, name: str) -> str:
    chart = next(c for c in curves.query(CurveChart) if c.chart == name)
    return str(chart.query_one(".chart-legend").render())


async def test_picker_adds_a_series_and_remembers_it(two: list[Path], chart_prefs: Path) -> None:
    async with CompareApp(two).run_test(size=(120, 32)) as pilot:
        curves = await curves_shown(pilot)
        assert curves.charts == ["loss", "lr/backbone", "eval/pitts30k/R@1"]
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SeriesPicker))
        pilot.app.screen.query_one(SelectionList).select("eval/tokyo247/R@5")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(curves.query(CurveChart)) == 4)
        await wait_for(pilot, lambda: "base" in legend(curves, "eval/tokyo247/R@5"))
        assert "cand" in legend(curves, "eval/tokyo247/R@5")
    assert json.loads(chart_prefs.read_text())["compare"]["vpr"][-1] == "eval/tokyo247/R@5"
    async with CompareApp(two).run_test(size=(120, 32)) as pilot:
        curves = await curves_shown(pilot)
        await wait_for(pilot, lambda: len(curves.query(CurveChart)) == 4)


async def test_cursor_reads_every_run_and_keys_bring_the_curves_forward(two: list[Path]) -> None:
    async with CompareApp(two).run_test(size=(140, 36)) as pilot:
        screen = pilot.app.screen
        await wait_for(pilot, lambda: isinstance(screen, CompareScreen) and bool(screen.runs))
        assert screen.query_one(TabbedContent).active == "metrics"
        await pilot.press("left_square_bracket")
        assert screen.query_one(TabbedContent).active == "curves"
        curves = screen.query_one(CompareCurves)
        await wait_for(pilot, lambda: curves.cursor is not None)
        await pilot.press("left_square_bracket", "left_square_bracket")
        at = curves.cursor
        assert at is not None
        text = legend(curves, "loss")
        for run in screen.runs:
            x, y = run.scalars["loss/total"]
            i = int(np.searchsorted(x, at, side="right")) - 1
            assert f"{fmt_exact(ema(y, 0.9)[i])} (raw {fmt_exact(y[i])})" in text
        await pilot.press("y", "a")
        assert curves.log_y and curves.x_name == "epoch" and curves.cursor is None  # a new axis: a new cursor
        await pilot.press("left_square_bracket")
        assert curves.cursor is not None and "@ epoch" in legend(curves, "loss")
        await pilot.press("escape")
        assert curves.cursor is None and pilot.app.screen is screen


async def test_markers_share_columns_across_compare_charts(two: list[Path]) -> None:
    async with CompareApp(two).run_test(size=(120, 32)) as pilot:
        curves = await curves_shown(pilot)
        curves.redraw()
        plots = [c.query_one(CurvePlot) for c in curves.query(CurveChart)]
        steps = [[x for x, _ in p.marker_columns] for p in plots]
        assert steps[0] and all(s == steps[0] for s in steps)
