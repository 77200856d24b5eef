"""One training throughput for the header, the system panel and compare; the fractional epoch the engine writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from engine.core.protocol import EventWriter
from tests.tui.fixtures import FROZEN_NOW, make_run, update_run
from tui.data.compare_runs import training_throughput
from tui.data.run_snapshot import THROUGHPUT_WINDOWS, train_throughput
from tui.data.run_stream import RunStream
from tui.widgets.run_header import header_lines
from tui.widgets.system_panel import SystemPanel


def test_throughput_is_images_over_training_seconds_of_the_windows() -> None:
    # 100 steps at 50 img/s (2 s per step-unit), then 10 steps at 500: total 110 / (2 + 0.02) per unit
    steps, rates = np.array([100.0, 110.0]), np.array([50.0, 500.0])
    assert train_throughput(steps, rates) == pytest.approx(110 / (100 / 50 + 10 / 500))
    assert train_throughput(steps, rates, windows=1) == 500.0


def test_throughput_keeps_the_last_windows_and_skips_unusable_readings() -> None:
    steps = np.arange(0.0, 10 * (THROUGHPUT_WINDOWS + 5) + 1, 10)  # a step-0 reading covers no training
    rates = np.where(steps < 50, 1.0, 300.0)  # slow early windows fall out of the monitor's span
    assert train_throughput(steps, rates) == pytest.approx(300.0)
    assert train_throughput(np.array([10.0, 20.0]), np.array([np.nan, 0.0])) is None
    assert train_throughput(np.zeros(0), np.zeros(0)) is None


def test_compare_divides_training_images_by_train_seconds() -> None:
    info = {"progress": {"step": 1000}, "global_batch": 64, "train_seconds": 640.0}
    readings = (np.array([500.0, 1000.0]), np.array([1.0, 1.0]))
    assert training_throughput(info, readings) == 100.0
    # a run.json without them (older runs) falls back to the readings over the whole run
    assert training_throughput({"progress": {"step": 1000}}, readings) == 1.0
    assert training_throughput({"train_seconds": True}, None) is None


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A running run whose last readings are slow (an evaluation-heavy stretch must not show up here)."""
    folder = make_run(tmp_path / "runs", "fast", status="running", max_steps=1000, steps=500, events=False)
    update_run(folder, progress={"step": 500, "max_steps": 1000, "epoch": 3.472})
    with EventWriter(folder / "events.jsonl") as w:
        for step in range(50, 501, 50):
            w.system(step, {"img_per_s": 200.0 if step <= 250 else 100.0})
    return folder


def snapshot_of(folder: Path):  # type: ignore[no-untyped-def]
    stream = RunStream(folder, clock=lambda: FROZEN_NOW)
    stream.poll()
    return stream.snapshot()


def test_header_shows_the_fractional_epoch_and_training_throughput(run: Path) -> None:
    gauges = header_lines(snapshot_of(run))[1].plain
    # the last 10 windows: 5 of 50 steps at 200 img/s and 5 at 100 → 500 / (1.25 + 2.5) per unit
    assert "epoch 3.5" in gauges and "train 133 img/s" in gauges


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield SystemPanel()


async def test_system_panel_says_the_header_figure(run: Path) -> None:
    app = PanelApp()
    async with app.run_test(size=(80, 10)) as pilot:
        app.query_one(SystemPanel).show(snapshot_of(run))
        await pilot.pause()
        label = str(app.query_one("#system-spark-label", Static).render())
        assert label.startswith(" train 133 img/s") and f"last {THROUGHPUT_WINDOWS} logs" in label
