"""Scalar groups a model reports (`routing/…`): their own picker group, a chart of them all, `g` for a group."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from textual.app import App
from textual.widgets import SelectionList

from engine.core.protocol import EventWriter
from tests.tui.fixtures import frozen_clock, make_run, wait_for
from tui.data.chart_series import chart_choices, chart_keys, chart_title, line_label, series_group
from tui.screens.monitor import MonitorScreen
from tui.screens.series_picker import SeriesPicker
from tui.widgets.curves import CurveChart, CurvesPanel

ROUTING = ["routing/entropy", "routing/util_s0_e0", "routing/util_s0_e1"]
NAMES = [
    "loss/total",
    "loss/ce",
    "lr/head",
    "grad_norm",
    *ROUTING,
    "aux/gate",
    "eval/val/top1",
    "system/cpu_pct",
]


def test_a_prefix_is_its_own_group() -> None:
    assert [series_group(n) for n in ("routing/entropy", "grad_norm", "loss/ce", "aux/gate")] == [
        "routing",
        "training",
        "loss",
        "aux",
    ]
    choices = chart_choices(NAMES)
    assert list(dict.fromkeys(c.group for c in choices)) == [
        "loss",
        "lr",
        "training",
        "aux",
        "routing",
        "eval",
        "system",
    ]
    routing = [c for c in choices if c.group == "routing"]
    assert [c.chart for c in routing] == ["routing/*", *ROUTING] and routing[
        0
    ].label == "routing — all 3 series"
    assert [c.chart for c in choices if c.group == "aux"] == ["aux/gate"]  # one series: no chart of them all
    assert chart_keys("routing/*", NAMES) == ROUTING and chart_keys("loss/*", NAMES) == []
    assert (
        chart_title("routing/*") == "routing"
        and line_label("routing/*", "routing/util_s0_e1") == "util_s0_e1"
    )


class MonitorApp(App[None]):
    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.clock = frozen_clock
        self.run_dir = run_dir

    def on_mount(self) -> None:
        self.push_screen(MonitorScreen(self.run_dir, poll_interval=0.05))


def routed_run(runs: Path) -> Path:
    """A classification run half way whose model logs routing/… scalars every 10 steps and at evaluations."""
    folder = make_run(runs, "pce-demo", "running", task="classification", backbone="pce", max_steps=1_000)
    with EventWriter(folder / "events.jsonl") as events:
        for step in range(10, 501, 10):
            share = 0.5 + 0.3 * math.tanh(step / 200)
            events.scalar(
                step,
                {
                    "routing/entropy": round(2.0 - share, 4),
                    "routing/util_s0_e0": round(share, 4),
                    "routing/util_s0_e1": round(1 - share, 4),
                },
            )
    return folder


async def pick_the_routing_group(folder: Path, size: tuple[int, int], shots: str | None) -> None:
    """Open the picker, tick the routing group with g (then untick and tick it again), show two of its charts."""
    async with MonitorApp(folder).run_test(size=size) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, MonitorScreen)
        panel = screen.query_one(CurvesPanel)
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.events_read)
        await wait_for(pilot, lambda: bool(panel.query(CurveChart)))
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SeriesPicker))
        picker = pilot.app.screen.query_one(SelectionList)
        picker.deselect_all()
        picker.highlighted = next(
            i for i in range(picker.option_count) if picker.get_option_at_index(i).value == "routing/entropy"
        )
        await pilot.press("g")
        await wait_for(pilot, lambda: set(picker.selected) == {"routing/*", *ROUTING})
        await pilot.press("g")  # all ticked: g unticks them
        await wait_for(pilot, lambda: not picker.selected)
        await pilot.press("g")
        await wait_for(pilot, lambda: len(picker.selected) == 4)
        picker.deselect("routing/util_s0_e0")
        picker.deselect("routing/util_s0_e1")
        if shots:
            pilot.app.save_screenshot(f"picker-{size[0]}x{size[1]}.svg", shots)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MonitorScreen))
        shown = ["routing/*", "routing/entropy"]
        await wait_for(pilot, lambda: [c.chart for c in panel.query(CurveChart)] == shown)
        await wait_for(pilot, lambda: not panel._dirty)
        group_chart = panel.query(CurveChart).first()
        await wait_for(  # one line per series of the group, named by what follows the prefix
            pilot, lambda: "util_s0_e0" in str(group_chart.query_one(".chart-legend").render())
        )
        if shots:
            await pilot.pause()
            pilot.app.save_screenshot(f"monitor-{size[0]}x{size[1]}.svg", shots)


async def test_g_ticks_the_whole_group_and_the_choice_is_kept_per_task(tmp_path: Path) -> None:
    folder = routed_run(tmp_path / "runs")
    shots = os.environ.get("LABCONSOLE_SHOTS")  # a folder: also save the picker and the monitor as SVG
    for size in ((80, 24), (200, 50)) if shots else ((120, 32),):
        await pick_the_routing_group(folder, size, shots)
    saved = json.loads(Path(os.environ["LABCONSOLE_CHART_PREFS"]).read_text())
    assert saved["monitor"]["classification"] == ["routing/*", "routing/entropy"]
