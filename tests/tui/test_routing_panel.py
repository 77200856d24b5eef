"""The monitor's routing panel: per-stage expert shares and entropy, the latest evaluation's mutual information
and route clusters, a switched-off expert marked; shown only for runs that log routing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from textual.app import App
from textual.pilot import Pilot

from tests.tui.fixtures import frozen_clock, make_run, wait_for
from tests.tui.routing_fixtures import EXPERTS, LAST_STEP, STAGES, routing_eval, routing_run, routing_scalars
from tui.data.chart_series import DEFAULT_CHARTS, default_charts
from tui.data.routing_view import logs_routing, routing_view, switched_off_experts
from tui.data.run_snapshot import EvalPoint
from tui.screens.monitor import MonitorScreen
from tui.widgets.curves import CurvesPanel
from tui.widgets.routing_panel import evaluation_line, routing_text, share_bar, stage_line


class MonitorApp(App[None]):
    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.clock = frozen_clock
        self.run_dir = run_dir

    def on_mount(self) -> None:
        self.push_screen(MonitorScreen(self.run_dir, poll_interval=0.05))


def _series(*points: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([p[0] for p in points]), np.array([p[1] for p in points])


SCALARS = {
    "loss/total": _series((10, 1.0)),
    "routing/util_s0_e0": _series((10, 0.5), (20, 0.7)),
    "routing/util_s0_e1": _series((10, 0.5), (20, 0.3)),
    "routing/util_s1_e0": _series((10, 0.25), (20, 0.0)),
    "routing/util_s1_e1": _series((10, 0.75), (20, 1.0)),
    "routing/entropy_s0": _series((20, 0.88)),
    "routing/entropy_s1": _series((20, 0.0)),
}
OFF_1 = {"action": "set", "status": "applied", "values": {"model.backbone.expert.1": "off"}}
ON_1 = {"action": "set", "status": "applied", "values": {"model.backbone.expert.1": "on"}}
REJECTED_OFF_0 = {"action": "set", "status": "rejected", "values": {"model.backbone.expert.0": "off"}}


def test_the_view_holds_the_latest_share_of_each_stage_and_expert_and_the_stage_entropy() -> None:
    view = routing_view(SCALARS, {})
    assert view is not None and view.step == 20 and view.num_experts == 2 and view.max_entropy_bits == 1.0
    assert [s.shares for s in view.stages] == [(0.7, 0.3), (0.0, 1.0)]
    assert [s.entropy_bits for s in view.stages] == [0.88, 0.0]
    assert view.evaluation is None and view.switched_off == frozenset()


def test_runs_without_utilisation_have_no_view() -> None:
    scalars = {"loss/total": _series((10, 1.0)), "routing/entropy": _series((10, 1.0))}
    assert routing_view(scalars, {}) is None and not logs_routing(scalars)
    assert logs_routing(SCALARS)


def test_an_expert_is_off_after_its_latest_applied_switch_turned_it_off() -> None:
    assert switched_off_experts([OFF_1, REJECTED_OFF_0]) == {1}
    assert switched_off_experts([OFF_1, ON_1]) == frozenset()
    scheduled = {**OFF_1, "scheduled": True, "values": {"model.backbone.expert.3": "off", "optim.lr": 0.1}}
    assert switched_off_experts([scheduled]) == {3}


def test_the_latest_evaluation_with_routing_metrics_prefers_the_validation_set() -> None:
    evals = {
        "test": (EvalPoint(200, {"routing/mi_bits": 0.3}), EvalPoint(400, {"routing/mi_bits": 0.5})),
        "val": (EvalPoint(400, {"routing/mi_bits": 0.45, "routing/route_clusters": 4.0}, "val"),),
        "other": (EvalPoint(600, {"top1": 50.0}),),  # no routing diagnostics: not this one
    }
    view = routing_view(SCALARS, evals)
    assert view is not None and view.evaluation is not None
    ev = view.evaluation
    assert (ev.step, ev.split, ev.mi_bits, ev.route_clusters, ev.routes_used) == (400, "val", 0.45, 4.0, None)


def test_bars_scale_to_the_whole_stage_in_eighths() -> None:
    assert share_bar(1.0, 4) == ("████", "")
    assert share_bar(0.0, 4) == ("", "░░░░")
    assert share_bar(0.25, 3) == ("▊", "░░")  # 6 eighths of 24
    assert share_bar(math.nan, 2) == ("", "░░")


def test_a_stage_line_shows_every_share_the_entropy_and_the_switched_off_expert() -> None:
    view = routing_view(SCALARS, {}, [OFF_1])
    assert view is not None
    wide = stage_line(view, 0, 56).plain
    assert wide.startswith("s0 ") and "70%" in wide and "✕ off" in wide and "30%" in wide
    assert wide.endswith("H 0.88b") and len(wide) <= 56
    narrow = stage_line(view, 1, 20).plain  # no room for bars: the shares alone
    assert narrow == "s1   0% 100%✕ H 0.00b"


def test_the_evaluation_line_leaves_off_what_does_not_fit() -> None:
    evals = {"val": (EvalPoint(600, routing_eval(600), "val"),)}
    view = routing_view(SCALARS, evals)
    assert view is not None
    assert evaluation_line(view, 200).plain == (
        "eval @600 val · MI 0.60b · clusters 6 · routes 28 · balance 1.10"
    )
    assert evaluation_line(view, 40).plain == "eval @600 val · MI 0.60b · clusters 6"
    assert routing_text(view, 40).plain.count("\n") == 2  # two stages, then the evaluation


def test_routing_entropy_joins_the_default_charts_when_logged() -> None:
    assert default_charts(SCALARS) == list(DEFAULT_CHARTS)
    assert default_charts([*SCALARS, "routing/entropy"]) == [*DEFAULT_CHARTS, "routing/entropy"]


def panel_lines(screen: MonitorScreen) -> list[str]:
    panel = screen.query_one("#panel-routing")
    return [strip.text.rstrip() for strip in panel.render_lines(panel.region.reset_offset)]


def all_stages_drawn(lines: list[str]) -> bool:
    """Every stage's row is on screen with its switched-off expert (a redraw may be caught half laid out)."""
    rows = [line.lstrip("│ ") for line in lines]
    return all(
        any(row.startswith(f"s{stage} ") and "✕ off" in row for row in rows) for stage in range(STAGES)
    )


async def loaded(pilot: Pilot) -> MonitorScreen:
    screen = pilot.app.screen
    assert isinstance(screen, MonitorScreen)
    await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.events_read)
    return screen


async def test_the_monitor_shows_the_panel_for_a_routing_run_only(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    app = MonitorApp(routing_run(runs))
    async with app.run_test(size=(120, 32)) as pilot:
        screen = await loaded(pilot)
        panel = screen.query_one("#panel-routing")
        await wait_for(pilot, lambda: panel.display and all_stages_drawn(panel_lines(screen)))  # bars drawn
        lines = panel_lines(screen)
        last = routing_scalars(LAST_STEP)
        for stage in range(STAGES):
            row = next(line for line in lines if line.lstrip("│ ").startswith(f"s{stage} "))
            shares = [last[f"routing/util_s{stage}_e{e}"] for e in range(EXPERTS)]
            for share in shares[:3]:
                assert f"{100 * share:3.0f}%" in row, row
            assert "✕ off" in row and f"H {last[f'routing/entropy_s{stage}']:.2f}b" in row
        text = "\n".join(lines)
        assert f"routing @ step {LAST_STEP}" in text and "MI 0.60b" in text and "clusters 6" in text
        curves = screen.query_one(CurvesPanel)
        await wait_for(pilot, lambda: "routing/entropy" in curves.charts)
        assert curves.charts[:2] == ["loss", "lr"]

    app = MonitorApp(make_run(runs, "plain", "running", max_steps=1_000))
    async with app.run_test(size=(120, 32)) as pilot:
        screen = await loaded(pilot)
        await pilot.pause()
        assert not screen.query_one("#panel-routing").display
        assert screen.query_one(CurvesPanel).charts == list(DEFAULT_CHARTS)


async def test_at_80x24_the_panel_comes_with_the_system_panel_on_key_3(tmp_path: Path) -> None:
    app = MonitorApp(routing_run(tmp_path / "runs"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        panel = screen.query_one("#panel-routing")
        await wait_for(pilot, lambda: panel.has_class("-active"))
        assert not panel.display or panel.region.height == 0  # the curves tab is shown
        await pilot.press("3")
        await wait_for(
            pilot,
            lambda: panel.region.height == 2 + STAGES + 1 and all_stages_drawn(panel_lines(screen)),
            describe=lambda: f"height {panel.region.height}: " + " / ".join(panel_lines(screen)),
        )
        lines = panel_lines(screen)
        assert all(len(line) <= 80 for line in lines) and "✕ off" in lines[1]
        assert "system·routing" in str(screen.query_one("#mon-tabs").render())
