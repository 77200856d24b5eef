"""The monitor's charts under Pilot: picker, persistence, log y, x axes, cursor, markers, legends, NO_COLOR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import SelectionList

from engine.core.protocol import EventWriter
from tests.tui.fixtures import frozen_clock, make_run, wait_for
from tui.data.downsample import ema
from tui.screens.marker_list import MarkerList
from tui.screens.monitor import MonitorScreen
from tui.screens.series_picker import SeriesPicker
from tui.widgets.alert_banner import AlertBanner
from tui.widgets.curves import CurveChart, CurvePlot, CurvesPanel, fmt_exact
from tui.widgets.key_bar import KeyBar
from tui.widgets.run_header import RunHeader


@pytest.fixture(autouse=True)
def chart_prefs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the charts chosen in tests out of the user's ~/.config."""
    path = tmp_path / "charts.json"
    monkeypatch.setenv("LABCONSOLE_CHART_PREFS", str(path))
    return path


class MonitorApp(App[None]):
    """A bare app showing one MonitorScreen with the fixtures' frozen clock."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.clock = frozen_clock
        self.run_dir = run_dir

    def on_mount(self) -> None:
        self.push_screen(MonitorScreen(self.run_dir, poll_interval=0.05))


@pytest.fixture
def running(tmp_path: Path) -> Path:
    """A live VPR run half way (3 test sets, evals every 1,000 steps, a freeze and an LR change)."""
    return make_run(
        tmp_path / "runs", "convnext-gem", "running", backbone="convnext_tiny", max_steps=10_000, steps=5_000
    )


async def drawn(pilot: Pilot[Any]) -> tuple[MonitorScreen, CurvesPanel]:
    """Wait until the run is read and its charts drawn."""
    screen = pilot.app.screen
    assert isinstance(screen, MonitorScreen)
    panel = screen.query_one(CurvesPanel)
    await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.events_read)
    await pilot.pause()
    await wait_for(pilot, lambda: not panel._dirty and bool(panel.query(CurveChart)))
    return screen, panel


def chart(panel: CurvesPanel, name: str) -> CurveChart:
    """The chart drawing `name`."""
    return next(c for c in panel.query(CurveChart) if c.chart == name)


def legend(panel: CurvesPanel, name: str) -> str:
    """A chart's legend as plain text."""
    return str(chart(panel, name).query_one(".chart-legend").render())


async def pick(pilot: Pilot[Any], *charts: str) -> None:
    """Open the picker (g), tick `charts` and show them (enter)."""
    await pilot.press("g")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SeriesPicker))
    picker = pilot.app.screen.query_one(SelectionList)
    for name in charts:
        picker.select(name)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen))


async def test_picker_adds_an_eval_metric_chart_per_test_set(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        _, panel = await drawn(pilot)
        assert panel.charts == ["loss", "lr", "grad_norm"]
        await pick(pilot, "eval/*/R@1")
        await wait_for(pilot, lambda: "eval/*/R@1" in [c.chart for c in panel.query(CurveChart)])
        await wait_for(pilot, lambda: "pitts30k" in legend(panel, "eval/*/R@1"))
        text = legend(panel, "eval/*/R@1")
        assert all(split in text for split in ("pitts30k", "tokyo247", "msls_val"))
        assert "64" in text  # pitts30k's latest R@1 (the fixture's curve reaches 64.0 at step 5,000)


async def test_chosen_charts_persist_per_task_across_restarts(running: Path, chart_prefs: Path) -> None:
    async with MonitorApp(running).run_test(size=(120, 32)) as pilot:
        await drawn(pilot)
        await pick(pilot, "eval/tokyo247/R@5", "system/img_per_s")
    saved = json.loads(chart_prefs.read_text())
    assert saved["monitor"]["vpr"] == ["loss", "lr", "grad_norm", "eval/tokyo247/R@5", "system/img_per_s"]
    async with MonitorApp(running).run_test(size=(120, 32)) as pilot:
        _, panel = await drawn(pilot)
        await wait_for(pilot, lambda: len(panel.query(CurveChart)) == 5)
        assert [c.chart for c in panel.query(CurveChart)][-2:] == ["eval/tokyo247/R@5", "system/img_per_s"]


async def test_log_scale_toggle_plots_log10_values(running: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plotted: list[list[float]] = []
    real = CurvePlot.plot_line

    def plot_line(self: CurvePlot, x: Any, y: Any, *args: Any) -> None:
        plotted.append(list(y))
        real(self, x, y, *args)

    monkeypatch.setattr(CurvePlot, "plot_line", plot_line)
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        _, panel = await drawn(pilot)
        plotted.clear()
        await pilot.press("y")
        assert panel.log_y and "log y" in str(panel.border_subtitle)
        lr = panel._snapshot.scalars["lr/head"][1]  # type: ignore[union-attr]
        assert any(np.isclose(min(ys), np.log10(lr[lr > 0].min())) for ys in plotted if ys)
        await pilot.press("y")
        assert not panel.log_y


async def test_x_axis_cycles_step_epoch_time(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        screen, panel = await drawn(pilot)
        view = panel.view(screen.snapshot)  # type: ignore[arg-type]
        assert view.axis.name == "step"
        await pilot.press("a")
        assert panel.x_name == "epoch"
        epoch = panel.view(screen.snapshot).axis  # type: ignore[arg-type]
        assert epoch.of(np.array([5_000.0]))[0] == pytest.approx(10.417)  # run.json progress.epoch
        await pilot.press("a")
        assert panel.x_name == "time"
        time_axis = panel.view(screen.snapshot).axis  # type: ignore[arg-type]
        assert time_axis.name == "time" and time_axis.of(np.array([0.0]))[0] == 0.0
        assert time_axis.of(np.array([5_000.0]))[0] > 0
        await pilot.press("a")
        assert panel.x_name == "step"


async def test_cursor_readout_shows_the_data_at_its_step(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(160, 40)) as pilot:
        screen, panel = await drawn(pilot)
        snap = screen.snapshot
        assert snap is not None
        await pilot.press("left_square_bracket")
        steps, losses = snap.scalars["loss/total"]
        assert panel.cursor == steps[-1]
        await pilot.press("left_square_bracket", "left_square_bracket")
        at = panel.cursor
        assert at is not None and at < steps[-1]
        i = int(np.searchsorted(steps, at))
        loss_text = legend(panel, "loss")
        assert f"@ step {at:,.0f}" in loss_text
        assert f"total {fmt_exact(ema(losses, 0.9)[i])} (raw {fmt_exact(losses[i])})" in loss_text
        lr_steps, lr = snap.scalars["lr/head"]
        assert f"head {fmt_exact(lr[np.searchsorted(lr_steps, at, side='right') - 1])}" in legend(panel, "lr")
        await pilot.press("escape")
        assert panel.cursor is None and app.screen is screen


async def test_click_on_a_chart_sets_the_cursor(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(160, 40)) as pilot:
        _, panel = await drawn(pilot)
        plot = chart(panel, "loss").query_one(CurvePlot)
        await pilot.click(plot, offset=(plot.size.width // 2, 3))
        assert panel.cursor is not None and 1_500 < panel.cursor < 3_500


async def test_markers_sit_at_the_same_step_in_every_chart(running: Path) -> None:
    with EventWriter(running / "events.jsonl") as w:
        w.emit("status", step=5_000, status="paused")
    app = MonitorApp(running)
    async with app.run_test(size=(160, 40)) as pilot:
        _, panel = await drawn(pilot)
        plots = [c.query_one(CurvePlot) for c in panel.query(CurveChart)]
        steps = [[x for x, _ in p.marker_columns] for p in plots]
        assert steps[0] and all(s == steps[0] for s in steps)
        kinds = {m.kind for m in panel.markers()}
        assert {"freeze", "control", "eval", "pause"} <= kinds
        lower = [p for p in plots if p.size.width == plots[-1].size.width]
        assert len(lower) == 2 and lower[0].marker_columns == lower[1].marker_columns
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MarkerList))
        await pilot.press("enter")  # the last marker: the cursor goes to its step
        await wait_for(pilot, lambda: panel.cursor == 5_000)


async def test_legends_keep_names_at_80_columns(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(80, 24)) as pilot:
        _, panel = await drawn(pilot)
        assert "total" in legend(panel, "loss") and "multi_similarity" in legend(panel, "loss")
        lr = legend(panel, "lr")
        assert "backbone" in lr and "head" in lr and "e-0" in lr  # names and values


async def test_no_color_tells_series_apart_by_point_style(
    running: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    styles: dict[int, list[str]] = {}
    real_draw, real_plot = CurvePlot.draw, CurvePlot.plot_line

    def draw(self: CurvePlot, *args: Any) -> bool:
        styles.setdefault(id(self), []).clear()
        return real_draw(self, *args)

    def plot_line(self: CurvePlot, x: Any, y: Any, colour: Any, marker: str) -> None:
        styles[id(self)].append(marker)
        real_plot(self, x, y, colour, marker)

    monkeypatch.setattr(CurvePlot, "plot_line", plot_line)
    monkeypatch.setattr(CurvePlot, "draw", draw)
    monkeypatch.setenv("NO_COLOR", "1")
    app = MonitorApp(running)
    monkeypatch.delenv("NO_COLOR")
    assert app.no_color
    async with app.run_test(size=(120, 32)) as pilot:
        _, panel = await drawn(pilot)
        loss = styles[id(chart(panel, "loss").query_one(CurvePlot))]
        assert len(loss) == 2 and len(set(loss)) == 2  # total and multi_similarity, no faint raw lines
        assert "total" in legend(panel, "loss") and "multi_similarity" in legend(panel, "loss")


async def test_zoom_on_a_short_run_shows_its_last_half(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs", "short", "running", max_steps=1_000, steps=400)
    app = MonitorApp(folder)
    async with app.run_test(size=(120, 32)) as pilot:
        _, panel = await drawn(pilot)
        span = panel.span()
        assert span is not None and span < 500  # shorter than every fixed zoom level
        await pilot.press("z")
        assert panel.zoom == span // 2
        assert f"last {span // 2:.0f} steps" in str(panel.border_subtitle)
        assert any(f"last {span // 2:.0f} steps (of {span:,.0f})" in n.message for n in app._notifications)


async def test_maximized_panel_keeps_header_and_keys(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        screen, _ = await drawn(pilot)
        await pilot.press("1")
        assert screen.maximized is screen.query_one("#panel-curves")
        await pilot.pause()
        assert screen.query_one(RunHeader).region.height > 0
        assert screen.query_one(KeyBar).region.height > 0


async def test_eval_key_reports_the_engines_answer(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        await drawn(pilot)
        await pilot.press("e")
        sent = json.loads((running / "control.jsonl").read_text().splitlines()[-1])
        with EventWriter(running / "events.jsonl") as w:  # what engine/steering.py answers an eval with
            w.emit("control", step=5_010, id=sent["id"], action="eval", status="applied", values={})
        await wait_for(
            pilot,
            lambda: any("'eval' applied at step 5010: evaluating" in n.message for n in app._notifications),
        )
        with EventWriter(running / "events.jsonl") as w:
            for split in ("pitts30k", "tokyo247"):
                w.emit("eval", step=5_010, split=split, metrics={"R@1": 70.0})
        await wait_for(
            pilot, lambda: any(n.message == "step 5,010: eval pitts30k, tokyo247" for n in app._notifications)
        )


async def test_maximized_panel_keeps_header_and_alerts_in_place(tmp_path: Path) -> None:
    folder = make_run(
        tmp_path / "runs",
        "seg",
        "failed",
        task="segmentation",
        max_steps=2_000,
        steps=1_200,
        error="CUDA oom",
    )
    app = MonitorApp(folder)
    async with app.run_test(size=(120, 32)) as pilot:
        screen, _ = await drawn(pilot)
        banner = screen.query_one(AlertBanner)
        await wait_for(pilot, lambda: banner.region.height > 0)
        await pilot.press("1")
        await pilot.pause()
        assert screen.maximized is screen.query_one("#panel-curves")
        header, curves = screen.query_one(RunHeader).region, screen.query_one("#panel-curves").region
        assert header.y == 0 and header.bottom <= banner.region.y and banner.region.bottom <= curves.y
        assert screen.query_one(KeyBar).region.bottom == 32
