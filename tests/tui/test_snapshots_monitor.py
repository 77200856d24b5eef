"""Snapshots of the monitor screen at 120×32 and 80×24 on fixed fixture runs with a frozen clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot

from tests.tui.fixtures import frozen_clock, make_run, wait_for
from tui.screens.monitor import MonitorScreen
from tui.widgets.curves import CurvePlot, CurvesPanel


@pytest.fixture(autouse=True)
def chart_prefs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Charts chosen in the user's ~/.config must not change the snapshots."""
    monkeypatch.setenv("LABCONSOLE_CHART_PREFS", str(tmp_path / "charts.json"))


class MonitorApp(App[None]):
    """A bare app showing one MonitorScreen with the fixtures' frozen clock."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.clock = frozen_clock
        self.run_dir = run_dir

    def on_mount(self) -> None:
        self.push_screen(MonitorScreen(self.run_dir, poll_interval=0.05))


async def until_loaded(pilot: Pilot) -> None:
    """Wait for the first snapshot and its drawing (the curves redraw at most twice a second)."""
    screen = pilot.app.screen
    assert isinstance(screen, MonitorScreen)
    panel = screen.query_one(CurvesPanel)
    await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.events_read)
    await pilot.pause()
    plots = list(panel.query(CurvePlot))  # a legend that took a second row resizes its chart: that redraw too
    await wait_for(pilot, lambda: not panel._dirty and all(p.drawn_size == p.size for p in plots))


@pytest.fixture
def vpr_run(tmp_path: Path) -> Path:
    """A running VPR run with three test sets, a freeze phase and an LR change."""
    return make_run(
        tmp_path / "runs",
        "convnext-gem-ms",
        "running",
        backbone="convnext_tiny",
        max_steps=10_000,
        steps=5_000,
        score=80.0,
    )


@pytest.fixture
def failed_seg_run(tmp_path: Path) -> Path:
    """A segmentation run that died of OOM after a few evals (per-class IoU table, alert banner)."""
    return make_run(
        tmp_path / "runs",
        "seg-r50-dice",
        "failed",
        task="segmentation",
        aggregator="fpn",
        loss="ce+dice",
        max_steps=2_000,
        steps=1_200,
        score=62.0,
        error="CUDA out of memory",
        eval_every=400,
    )


@pytest.mark.parametrize("size", [(120, 32), (80, 24)], ids=["120x32", "80x24"])
def test_monitor_running_vpr(snap_compare, vpr_run: Path, size: tuple[int, int]) -> None:
    assert snap_compare(MonitorApp(vpr_run), terminal_size=size, run_before=until_loaded)


def test_monitor_failed_segmentation(snap_compare, failed_seg_run: Path) -> None:
    assert snap_compare(MonitorApp(failed_seg_run), terminal_size=(120, 32), run_before=until_loaded)
