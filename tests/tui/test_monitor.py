"""The monitor screen under Pilot on fixture runs: header, eval deltas, alerts, live updates, control keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widget import Widget

from engine.core.protocol import EventWriter
from tests.tui.fixtures import frozen_clock, make_run, update_run, wait_for
from tui.screens.baseline_picker import BaselinePicker
from tui.screens.confirm_stop import ConfirmStop
from tui.screens.monitor import MonitorScreen
from tui.widgets.alert_banner import AlertBanner
from tui.widgets.curves import CurvesPanel
from tui.widgets.eval_table import EvalTable


class MonitorApp(App[None]):
    """A bare app showing one MonitorScreen, with the frozen clock of the fixtures."""

    def __init__(self, run_dir: Path, poll_interval: float = 0.05) -> None:
        super().__init__()
        self.clock = frozen_clock
        self.run_dir = run_dir
        self.poll_interval = poll_interval

    def on_mount(self) -> None:
        self.push_screen(MonitorScreen(self.run_dir, poll_interval=self.poll_interval))


async def loaded(pilot: Pilot, screen: MonitorScreen, step: int | None = None, timeout: float = 10.0) -> None:
    """Wait until the screen has a snapshot (at `step`, when given), then let it be shown."""

    def ready() -> bool:
        snap = screen.snapshot
        return snap is not None and snap.events_read and (step is None or snap.step == step)

    await wait_for(
        pilot,
        ready,
        timeout,
        describe=lambda: f"no snapshot at step {step}: {screen.snapshot and screen.snapshot.step}",
    )
    await pilot.pause()


def text_of(widget: Widget) -> str:
    """The plain text a Static currently shows."""
    return str(widget.render())


def screen_text(widget: Widget) -> str:
    """What a widget shows on screen, as plain lines."""
    return "\n".join(strip.text for strip in widget.render_lines(widget.region.reset_offset))


def row_text(table: EvalTable, key: str) -> list[str]:
    """Plain cell texts of a row."""
    return [str(c) for c in table.get_row(key)]


@pytest.fixture
def running(tmp_path: Path) -> Path:
    """A live VPR run half way: 3 test sets, evals every 1,000 steps."""
    return make_run(
        tmp_path / "runs",
        "convnext-gem",
        "running",
        backbone="convnext_tiny",
        max_steps=10_000,
        steps=5_000,
        score=80.0,
    )


async def test_header_shows_status_progress_and_gauges(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        await loaded(pilot, screen)
        title = text_of(screen.query_one("#header-title"))
        gauges = text_of(screen.query_one("#header-gauges"))
        assert "convnext-gem" in title and "convnext_tiny" in title
        assert "step 5,000/10,000" in gauges and "50%" in gauges
        assert "epoch 10.4" in gauges and "train 419 img/s" in gauges  # 5,000 steps at 480 a pass
        assert "ETA 1h 00m" in gauges  # the events show 5,000 steps in 1 h; 5,000 to go
        assert "elapsed 2h 00m" in gauges
        assert screen.query_one("#header-status").status == "running"


async def test_eval_table_shows_deltas_best_and_baseline(running: Path, tmp_path: Path) -> None:
    base = make_run(
        tmp_path / "runs",
        "r50-baseline",
        "completed",
        max_steps=10_000,
        score=70.0,
        started=frozen_clock() - 40_000,
    )
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        screen = app.screen
        await loaded(pilot, screen)
        table = screen.query_one(EvalTable)
        latest = row_text(table, "pitts30k:latest")
        events = [json.loads(line) for line in (running / "events.jsonl").read_text().splitlines()]
        evals = [e["metrics"] for e in events if e["kind"] == "eval" and e["split"] == "pitts30k"]
        now, before = evals[-1]["R@1"], evals[-2]["R@1"]
        assert latest[0] == "pitts30k"
        assert latest[1] == f"{now:.1f} +{now - before:.1f}"
        assert row_text(table, "pitts30k:best")[1] == f"{max(e['R@1'] for e in evals):.1f}"
        assert table.border_title == "2 eval @ step 5,000"

        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BaselinePicker)
        await pilot.press("down", "enter")  # below "no baseline": the only other run
        await pilot.pause()
        assert isinstance(app.screen, MonitorScreen)
        base_r1 = json.loads((base / "run.json").read_text())["final"]["pitts30k"]["R@1"]
        delta = row_text(table, "pitts30k:base")[1]
        assert delta == f"{now - base_r1:+.1f}".replace("-", "−")
        assert "r50-baseline" in str(table.border_subtitle)


async def test_nan_alert_banner(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs", "nan-run", "running", max_steps=1000, steps=100)
    with EventWriter(folder / "events.jsonl") as w:
        w.scalar(110, {"loss/total": float("nan"), "loss/multi_similarity": float("nan")})
    app = MonitorApp(folder)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)
        banner = app.screen.query_one(AlertBanner)
        assert banner.display and banner.has_class("-error")
        assert banner.alerts[0].code == "nan"
        assert "NaN/Inf" in text_of(banner) and "step 110" in text_of(banner)


async def test_dead_process_banner_shows_last_log_lines(tmp_path: Path) -> None:
    folder = make_run(
        tmp_path / "runs",
        "oom",
        "failed",
        task="segmentation",
        max_steps=2000,
        steps=120,
        error="CUDA out of memory",
    )
    app = MonitorApp(folder)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)
        banner = text_of(app.screen.query_one(AlertBanner))
        assert "run failed: CUDA out of memory" in banner
        assert "RuntimeError: CUDA out of memory" in banner


async def test_live_appends_update_curves_and_tables(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        screen = app.screen
        await loaded(pilot, screen, step=5_000)
        n_before = len(screen.snapshot.scalars["loss/total"][0])
        with EventWriter(running / "events.jsonl") as w:
            for step in range(5_010, 5_210, 10):
                w.scalar(step, {"loss/total": 0.1, "loss/multi_similarity": 0.1, "grad_norm": 0.5})
            w.emit(
                "eval",
                step=5_200,
                split="tokyo247",
                metrics={"R@1": 99.0, "R@5": 99.5, "R@10": 99.7, "R@20": 99.9},
            )
        update_run(running, progress={"step": 5_200, "max_steps": 10_000, "epoch": 10.833})
        await loaded(pilot, screen, step=5_200)
        assert len(screen.snapshot.scalars["loss/total"][0]) == n_before + 20
        table = screen.query_one(EvalTable)
        assert row_text(table, "tokyo247:latest")[1].startswith("99.0 +")
        assert table.border_title == "2 eval @ step 5,200"
        assert "step 5,200/10,000" in text_of(screen.query_one("#header-gauges"))
        legend = screen.query_one("#loss-chart .chart-legend")
        await wait_for(pilot, lambda: "0.1" in text_of(legend))  # at the next redraw tick


def controls(folder: Path) -> list[str]:
    """Actions written to control.jsonl."""
    path = folder / "control.jsonl"
    return [json.loads(line)["action"] for line in path.read_text().splitlines()] if path.exists() else []


async def test_control_keys_write_control_jsonl(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)
        await pilot.press("e", "c", "p")
        assert controls(running) == ["eval", "checkpoint", "pause"]
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmStop)
        await pilot.press("n")
        assert controls(running) == ["eval", "checkpoint", "pause"]
        await pilot.press("s", "y")
        assert controls(running)[-1] == "stop"


async def test_pause_key_resumes_a_paused_run(running: Path) -> None:
    with EventWriter(running / "events.jsonl") as w:
        w.emit("status", step=5_000, status="paused")
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)
        assert app.screen.snapshot.status == "paused"
        await pilot.press("p")
        assert controls(running) == ["resume"]


async def test_finished_runs_ignore_steering_keys(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs", "done", "completed", max_steps=500)
    app = MonitorApp(folder)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)
        await pilot.press("e", "c", "p", "s")
        assert controls(folder) == []
        assert isinstance(app.screen, MonitorScreen)


async def test_zoom_and_smoothing_keys(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)
        curves = app.screen.query_one(CurvesPanel)
        await pilot.press("z")
        assert curves.zoom == 2_000  # 10k is wider than the 5k steps run so far
        await pilot.press("z", "z")
        assert curves.zoom is None
        await pilot.press("plus")
        assert curves.smoothing == 0.95
        await pilot.press("minus", "minus")
        assert curves.smoothing == 0.8
        assert "last 2k" not in str(curves.border_subtitle)


async def test_compact_layout_switches_panels(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await loaded(pilot, screen)
        assert screen.has_class("-compact")
        assert screen.query_one("#panel-curves").display and screen.query_one("#mon-tabs").display
        await pilot.press("2")
        assert screen.has_class("-show-eval")
        assert screen.query_one("#panel-eval").region.height > 10
        assert screen.query_one("#panel-curves").region.height == 0
        await pilot.press("tab")
        assert screen.has_class("-show-system")
        await pilot.press("escape")
        assert not isinstance(app.screen, MonitorScreen)


async def test_escape_returns_from_a_maximized_panel_first(running: Path) -> None:
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        screen = app.screen
        await loaded(pilot, screen)
        await pilot.press("1")
        assert screen.maximized is screen.query_one("#panel-curves")
        await pilot.press("escape")
        assert screen.maximized is None and app.screen is screen
        await pilot.press("q")
        assert app.screen is not screen


async def test_gpu_memory_per_device_in_the_system_panel(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs", "gpu-run", "running", max_steps=1000, steps=100)
    with EventWriter(folder / "events.jsonl") as w:
        w.system(
            110,
            {
                "img_per_s": 800.0,
                "gpu_mem_alloc_mb": 5120.0,
                "gpu_mem_reserved_mb": 6144.0,
                "gpu_mem_peak_mb": 7000.0,
                "gpu1/gpu_mem_alloc_mb": 900.0,
            },
        )
    app = MonitorApp(folder)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)
        table = screen_text(app.screen.query_one("#system-table"))
        assert "cuda:0" in table and "5.0 GB" in table and "6.0 GB" in table and "6.8 GB" in table
        assert "cuda:1" in table and "900 MB" in table


async def test_many_metrics_turn_the_eval_table(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs", "seg", "completed", task="segmentation", max_steps=1000, score=70.0)
    app = MonitorApp(folder)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)
        table = app.screen.query_one(EvalTable)
        assert [str(c.label) for c in table.columns.values()][:3] == [
            "metric  Δ vs prev eval",
            "val",
            "best @1,000",
        ]
        assert row_text(table, "mIoU")[0] == "mIoU" and row_text(table, "IoU/road")[0] == "road"


async def test_plots_get_at_most_two_points_per_column(
    running: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.widgets.curves import CurvePlot

    sizes: list[tuple[int, int]] = []
    real_plot = CurvePlot.plot_line

    def plot_line(self: CurvePlot, x: Any, *args: Any) -> None:
        sizes.append((len(x), self.size.width))
        real_plot(self, x, *args)

    monkeypatch.setattr(CurvePlot, "plot_line", plot_line)
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)
        panel = app.screen.query_one(CurvesPanel)
        await wait_for(pilot, lambda: sizes and not panel._dirty)  # drawn at the plots' laid-out widths
    assert sizes and all(n <= 2 * width for n, width in sizes)


async def test_a_failing_read_is_reported_and_retried(running: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.data.run_stream import RunStream

    real_poll = RunStream.poll
    failures = [PermissionError("events.jsonl: permission denied")]

    def poll(self: RunStream, read_events: bool = True) -> bool:
        if read_events and failures:
            raise failures.pop()
        return real_poll(self, read_events)

    notes: list[str] = []
    monkeypatch.setattr(RunStream, "poll", poll)
    monkeypatch.setattr(MonitorScreen, "notify", lambda self, message, **kw: notes.append(str(message)))
    app = MonitorApp(running)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)  # the next poll, a second later, succeeds
        assert any("permission denied" in note for note in notes)
        assert app.screen.snapshot.step == 5_000


async def test_stop_cancels_a_queued_slurm_job_instead_of_writing_control(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(tmp_path / "runs", "queued-on-slurm", status="queued", events=False)
    update_run(run, slurm_job_id="4242", slurm_cluster="slurm", slurm_folder=str(run / "slurm"))
    cancelled: list[str] = []
    monkeypatch.setattr(
        "engine.core.slurm.cancel_job", lambda info: cancelled.append(str(info["slurm_job_id"]))
    )
    app = MonitorApp(run)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot, app.screen)
        await pilot.press("s", "y")
        await wait_for(
            pilot, lambda: any("cancelled before it started" in n.message for n in app._notifications)
        )
        assert cancelled == ["4242"] and controls(run) == []
        assert json.loads((run / "run.json").read_text())["status"] == "stopped"
