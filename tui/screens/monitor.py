"""The live monitor of one run: header, alerts, curves, eval table, routing and system panels, log tail; steering
keys."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import get_current_worker

from engine.core.protocol import FINISHED, load_run_info, send_control
from tui.data.chart_prefs import load_charts, store_charts
from tui.data.chart_series import chart_choices, default_charts, flat_series
from tui.data.run_stream import RunStream, Snapshot
from tui.screens.baseline_picker import NO_BASELINE, BaselinePicker
from tui.screens.confirm_stop import ConfirmStop
from tui.screens.steer import SteerDialog
from tui.widgets.alert_banner import AlertBanner
from tui.widgets.chart_keys import CHART_VIEW_BINDINGS
from tui.widgets.curves import MARKER_COLOURS, CurvesPanel
from tui.widgets.eval_table import EvalTable
from tui.widgets.key_bar import KeyBar
from tui.widgets.log_tail import LogTail
from tui.widgets.routing_panel import RoutingPanel
from tui.widgets.run_header import RunHeader
from tui.widgets.system_panel import SystemPanel

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.5
"""Seconds between two looks at the run folder while the run is live (2 Hz: each look redraws the header and the
system panel)."""
FIRST_FRAME_WAIT = 0.5
"""Longest wait for the header frame to be drawn before the events backlog is decoded."""
IDLE_POLL_INTERVAL = 2.0
"""Seconds between two looks once the run has finished (a finished run rarely changes)."""
COMPACT_WIDTH, COMPACT_HEIGHT = 110, 30
"""Below either size one panel is shown at a time (keys 1–4 switch)."""
PANELS = ("curves", "eval", "system", "log")
"""The panels, in the order of their keys 1–4."""
STEERABLE = ("running", "paused", "queued")
"""Statuses in which the engine still reads control.jsonl."""
PaletteCommand = tuple[str, str, Callable[[], object]]


class MonitorScreen(Screen[None]):
    """Follows one run folder live; `escape` returns to the runs list."""

    CSS_PATH = "monitor.tcss"
    ALLOW_IN_MAXIMIZED_VIEW = "#mon-top, KeyBar"
    """A maximized panel keeps the header with the alerts (docked on top: Textual puts a maximized widget that
    is not a child of the screen first) and the key bar."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),
        Binding("s", "stop", "Stop", tooltip="Stop the run (asks first)"),
        Binding("p", "pause", "Pause", tooltip="Pause training, or unpause it"),
        Binding("e", "eval", "Eval", tooltip="Evaluate now"),
        Binding("c", "checkpoint", "Ckpt", tooltip="Save a checkpoint now"),
        Binding(
            "l",
            "steer",
            "Set…",
            tooltip="Change LR, schedule, loss weights, frozen groups or max steps mid-run",
        ),
        Binding("z", "zoom", "Zoom", tooltip="Whole run / last 10k / 2k / 500 steps"),
        Binding("plus,equals_sign", "smooth(1)", "Smooth", key_display="+/-", tooltip="More smoothing"),
        Binding("minus", "smooth(-1)", "Less smoothing", show=False),
        Binding("g", "pick_charts", "Charts", tooltip="Choose the charts: any logged series or eval metric"),
        *CHART_VIEW_BINDINGS,
        Binding("m", "markers", "Markers", tooltip="Every marker: freeze, set, eval, pause"),
        Binding("b", "baseline", "Baseline", tooltip="Compare evals against another run"),
        Binding("o", "open_log", "Log", tooltip="The whole output.log, followed live, with search"),
        Binding(
            "i", "images", "Figures", tooltip="The run's evaluation figures (retrievals, overlays, confusion)"
        ),
        Binding(
            "I",
            "run_info",
            "Info",
            show=False,
            tooltip="What the run ran on: code, versions, host, command, weights; checkpoints kept",
        ),
        Binding("1", "panel('curves')", "Curves", show=False),
        Binding("2", "panel('eval')", "Eval table", show=False),
        Binding("3", "panel('system')", "System", show=False),
        Binding("4", "panel('log')", "Log", show=False),
        Binding("tab", "next_panel", "Next panel", show=False),
    ]

    class RunUpdated(Message):
        """The run folder changed (new events, run.json, log lines) or its alerts did."""

        def __init__(self, snapshot: Snapshot) -> None:
            super().__init__()
            self.snapshot = snapshot
            """The run as of this poll."""

    class PollFailed(Message):
        """Reading the run folder raised; the follower keeps trying, more slowly."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error
            """What went wrong, one line."""

    def __init__(
        self,
        run_dir: Path,
        clock: Callable[[], float] | None = None,
        poll_interval: float = POLL_INTERVAL,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.run_dir = Path(run_dir)
        """The run folder followed."""
        self.poll_interval = poll_interval
        self._clock_arg = clock
        self._wake = threading.Event()
        self._first_frame = threading.Event()
        self._snapshot: Snapshot | None = None
        self._baseline: Path | None = None
        self._baseline_metrics: dict[str, dict[str, float]] | None = None
        self._panel = "curves"
        self._charts_task: str | None = None  # the task whose chosen charts are shown
        self._charts_defaulted = False  # no charts chosen for the task: the defaults follow what the run logs
        self._sent: dict[str, str] = {}  # control id -> action, to report the engine's answer
        self._evaluating: int | None = None  # the step of an evaluation asked for, until its results arrive

    @property
    def clock(self) -> Callable[[], float]:
        """The clock: the one given, else the app's (tests freeze it), else the wall clock."""
        if self._clock_arg is not None:
            return self._clock_arg
        clock: Callable[[], float] = getattr(self.app, "clock", time.time)
        return clock

    @property
    def snapshot(self) -> Snapshot | None:
        """The latest state of the run shown."""
        return self._snapshot

    def compose(self) -> ComposeResult:
        """Header, alert banner, tab strip (compact only), panels, footer."""
        with Vertical(id="mon-top"):
            yield RunHeader(clock=self._header_clock, id="mon-header")
            yield AlertBanner(id="mon-alerts")
        yield Static(id="mon-tabs")
        with Horizontal(id="mon-body"):
            yield CurvesPanel(id="panel-curves", classes="panel")
            with Vertical(id="mon-side"):
                yield EvalTable(id="panel-eval", classes="panel")
                yield RoutingPanel(id="panel-routing", classes="panel")
                yield SystemPanel(id="panel-system", classes="panel")
        yield LogTail(id="panel-log", classes="panel")
        yield KeyBar()

    def _header_clock(self) -> float:
        """The header's clock (resolved lazily: the app is not known at compose time)."""
        return self.clock()

    def on_mount(self) -> None:
        """Start following the run folder."""
        self.query_one("#panel-curves").border_title = "1 curves"
        self.query_one("#panel-eval").border_title = "2 eval"
        self.query_one("#panel-system").border_title = "3 system"
        self.query_one("#panel-log").border_title = "4 output.log"
        self._stream = RunStream(self.run_dir, clock=self.clock)
        self._apply_layout(self.app.size.width, self.app.size.height)
        self._follow()
        self.set_interval(1.0, self._tick)
        self.watch(self.app, "theme", self._on_theme, init=False)

    def on_unmount(self) -> None:
        """Wake the follower so that it sees its cancellation at once."""
        self._first_frame.set()
        self._wake.set()

    # -- following the run (thread) ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="monitor-poll", name="monitor-poll")
    def _follow(self) -> None:
        """Poll the run folder; post a snapshot whenever something (or the set of alerts) changed."""
        worker = get_current_worker()
        stream = self._stream
        try:  # run.json and the log first: the header shows while the events backlog loads
            stream.poll(read_events=False)
            self.post_message(self.RunUpdated(stream.snapshot()))
            self._first_frame.wait(FIRST_FRAME_WAIT)  # let it be drawn before a long decode holds the GIL
        except Exception as exc:
            log.warning("quick look at %s failed: %s", self.run_dir, exc)
        shown: tuple[object, ...] | None = None
        failing = False
        while not worker.is_cancelled:
            try:
                changed = stream.poll()
                key = (stream.version, tuple(stream.alerts()))
                if changed or key != shown:
                    shown = key
                    self.post_message(self.RunUpdated(stream.snapshot()))
                failing = False
            except Exception as exc:
                if not failing:
                    self.post_message(self.PollFailed(f"{type(exc).__name__}: {exc}"))
                failing = True
            slow = failing or stream.status in FINISHED
            self._wake.wait(max(self.poll_interval, IDLE_POLL_INTERVAL) if slow else self.poll_interval)
            self._wake.clear()

    def on_monitor_screen_run_updated(self, message: RunUpdated) -> None:
        """Show the new state in every panel."""
        snap = message.snapshot
        previous, self._snapshot = self._snapshot, snap
        if previous is None:
            self.call_after_refresh(self._first_frame.set)
        self.query_one(RunHeader).show(snap)
        self.query_one(AlertBanner).show(snap.alerts)
        self._load_charts(snap)
        self.query_one(CurvesPanel).show(snap)
        self._render_eval()
        self.query_one(RoutingPanel).show(snap)
        self.query_one(SystemPanel).show(snap)
        self.query_one(LogTail).show(snap.log)
        if previous is None or previous.status != snap.status:
            self.refresh_bindings()
        self._report_control_answers(snap)
        self._report_evaluation(snap)

    def on_routing_panel_toggled(self) -> None:
        """The routing panel appeared: the compact tab strip names it with the system panel."""
        self._render_tabs()

    def on_monitor_screen_poll_failed(self, message: PollFailed) -> None:
        """Say that the run folder could not be read (once per failure streak)."""
        self.notify(
            message.error, title=f"Reading {self.run_dir.name}", severity="error", timeout=6, markup=False
        )

    def _on_theme(self) -> None:
        """Colours depend on the theme (deltas, faint raw curves): redraw."""
        if self._snapshot is not None:
            self.query_one(RunHeader).tick()
            self._render_eval()
            self.query_one(CurvesPanel).redraw()

    def _tick(self) -> None:
        """Once a second: elapsed time and ETA move while the run is live."""
        header = self.query_one(RunHeader)
        live = self._snapshot is not None and self._snapshot.status in STEERABLE
        if live and time.monotonic() - header.ticked_at >= 0.9:  # not drawn with a poll's update just now
            header.tick()

    # -- drawing ----------------------------------------------------------------------------------

    def _render_eval(self) -> None:
        """The eval table, against the baseline when one is chosen."""
        if self._snapshot is None:
            return
        name = self._baseline.name if self._baseline else None
        table = self.query_one(EvalTable)
        table.show(
            self._snapshot.evals,
            self._baseline_metrics,
            name,
            self.app.current_theme.dark,
            self._snapshot.info.get("metric_order") or (),
            self._snapshot.info.get("main_metric"),
        )
        step = f" @ step {table.latest_step:,}" if table.latest_step is not None else ""
        title, subtitle = f"2 eval{step}", f"Δ base: {name}" if name else "b: pick a baseline"
        if (table.border_title, table.border_subtitle) != (
            title,
            subtitle,
        ):  # setting repaints the whole table
            table.border_title, table.border_subtitle = title, subtitle

    def _render_tabs(self) -> None:
        """'1 curves  2 eval  3 system  4 log' with the shown panel highlighted (compact layout)."""
        text = Text()
        routing = self.query_one(RoutingPanel).active
        for i, panel in enumerate(PANELS, start=1):
            style = "reverse bold" if panel == self._panel else "dim"
            label = "system·routing" if panel == "system" and routing else panel  # shown together
            text.append(f" {i} {label} ", style=style)
            text.append(" ")
        self.query_one("#mon-tabs", Static).update(text)

    # -- layout -------------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        """Switch between the full layout and one panel at a time."""
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        """Compact below COMPACT_WIDTH × COMPACT_HEIGHT: the tab strip and only the current panel."""
        compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        self.set_class(compact, "-compact")
        banner = self.query_one(AlertBanner)
        banner.max_detail = 2 if compact else 5
        for panel in PANELS:
            self.set_class(panel == self._panel, f"-show-{panel}")
        self._render_tabs()

    def action_panel(self, panel: str) -> None:
        """Show `panel` (compact layout) or maximize it / restore (full layout)."""
        widget = self.query_one(f"#panel-{panel}")
        if self.has_class("-compact"):
            self._panel = panel
            self._apply_layout(self.size.width, self.size.height)
        elif self.maximized is widget:
            self.minimize()
        else:
            self.maximize(widget, container=False)

    def action_next_panel(self) -> None:
        """Cycle through the panels."""
        if self.has_class("-compact"):
            self.action_panel(PANELS[(PANELS.index(self._panel) + 1) % len(PANELS)])
        else:
            self.focus_next()

    # -- curves -------------------------------------------------------------------------------------

    def action_zoom(self) -> None:
        """Whole run → last 10k → 2k → 500 steps."""
        curves = self.query_one(CurvesPanel)
        span = curves.span()
        zoom = curves.next_zoom()
        if not span:
            self.notify("no steps logged yet: the whole run is shown", title="Zoom", timeout=2)
            return
        shown = "whole run" if zoom is None else f"last {zoom:,} steps"
        self.notify(f"{shown} (of {span:,.0f})", title="Zoom", timeout=1.5)

    def action_smooth(self, direction: int) -> None:
        """More (+1) or less (-1) smoothing."""
        weight = self.query_one(CurvesPanel).smoother(direction)
        self.notify(
            f"EMA weight {weight:g}" if weight else "raw (no smoothing)", title="Smoothing", timeout=1.5
        )

    def action_log_y(self) -> None:
        """Log scale on every chart's y axis, or back to linear."""
        curves = self.query_one(CurvesPanel)
        curves.log_y = not curves.log_y
        self.notify("log" if curves.log_y else "linear", title="y axis", timeout=1.5)

    def action_x_axis(self) -> None:
        """x by step → epoch → time (what the run cannot tell is skipped)."""
        name = self.query_one(CurvesPanel).next_x_axis()
        self.notify(f"x by {name}", title="x axis", timeout=1.5)

    def action_cursor(self, columns: int) -> None:
        """Move the cursor (it appears at the last step); the legends read every series there."""
        if self.query_one(CurvesPanel).move_cursor(columns) is None:
            self.notify("no data yet", title="Cursor", severity="warning", timeout=1.5)

    def action_markers(self) -> None:
        """The list of every marker; choosing one puts the cursor at its step."""
        from tui.screens.marker_list import MarkerList

        curves = self.query_one(CurvesPanel)
        self.app.push_screen(MarkerList(curves.markers(), MARKER_COLOURS), self._cursor_to)

    def _cursor_to(self, step: float | None) -> None:
        if step is not None:
            self.query_one(CurvesPanel).cursor_at_step(step)

    def action_pick_charts(self) -> None:
        """Choose the charts among every series the run logged."""
        from tui.screens.series_picker import SeriesPicker

        snap = self._snapshot
        if snap is None:
            return
        names = flat_series(snap.scalars, snap.system, snap.evals)
        curves = self.query_one(CurvesPanel)
        picker = SeriesPicker(chart_choices(names), curves.charts, default_charts(snap.scalars))
        self.app.push_screen(picker, self._set_charts)

    async def _set_charts(self, charts: list[str] | None) -> None:
        """Show the picked charts and remember them for the run's task."""
        if charts is None:
            return
        self._charts_defaulted = False
        await self.query_one(CurvesPanel).set_charts(charts)
        store_charts("monitor", self._run_task(), charts)

    def _run_task(self) -> str:
        """The run's task (vpr, segmentation, …): charts are remembered per task."""
        snap = self._snapshot
        task = snap.info.get("task") if snap else None
        if not isinstance(task, str) and snap is not None:
            section = snap.config.get("task")
            task = section.get("name") if isinstance(section, dict) else section
        return str(task or "default")

    def _load_charts(self, snap: Snapshot) -> None:
        """Once the task is known: the charts chosen for it last time, else the defaults for what the run logs
        (they follow the run until the researcher picks: a model's diagnostics appear with its first log)."""
        task = self._run_task()
        if task == self._charts_task or not snap.info:
            if self._charts_defaulted and snap.events_read:
                self._show_charts(default_charts(snap.scalars))
            return
        self._charts_task = task
        chosen = load_charts("monitor", task)
        self._charts_defaulted = not chosen
        self._show_charts(chosen or default_charts(snap.scalars))

    def _show_charts(self, charts: list[str]) -> None:
        curves = self.query_one(CurvesPanel)
        if charts != curves.charts:
            self.run_worker(curves.set_charts(charts), group="charts", exclusive=True)

    # -- baseline -------------------------------------------------------------------------------------

    def action_baseline(self) -> None:
        """Pick the run the eval table compares against."""
        current = str(self._baseline) if self._baseline else None
        self.app.push_screen(
            BaselinePicker(self.run_dir.parent, self.run_dir.name, current), self._set_baseline
        )

    def _set_baseline(self, choice: str | None) -> None:
        """Apply the picker's answer (None: cancelled)."""
        if choice is None:
            return
        self.set_baseline(None if choice == NO_BASELINE else Path(choice))

    def set_baseline(self, run_dir: Path | None) -> None:
        """Compare against `run_dir`'s final (else best) metrics; None clears the baseline."""
        self._baseline = run_dir
        self._baseline_metrics = None
        if run_dir is not None:
            info = load_run_info(run_dir) or {}
            metrics = info.get("final") or info.get("best") or {}
            self._baseline_metrics = {s: dict(m) for s, m in metrics.items() if isinstance(m, dict)}
        self._render_eval()

    # -- steering -------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Steering keys are greyed out once the engine is gone."""
        if action in ("stop", "pause", "eval", "checkpoint", "steer"):
            snap = self._snapshot
            return True if snap is not None and snap.status in STEERABLE else None
        return True

    def action_back(self) -> None:
        """Return to the runs list (or hide the cursor, or close a maximized panel, first)."""
        curves = self.query_one(CurvesPanel)
        if curves.cursor is not None:
            curves.cursor = None
        elif self.maximized is not None:
            self.minimize()
        else:
            self.dismiss(None)

    def action_stop(self) -> None:
        """Ask, then ask the engine to stop."""
        name = str((self._snapshot.info.get("name") if self._snapshot else None) or self.run_dir.name)
        self.app.push_screen(ConfirmStop(name), lambda yes: self._stop() if yes else None)

    def _stop(self) -> None:
        """A job still waiting in the Slurm queue never reads control.jsonl: cancel it; else ask the engine."""
        snap = self._snapshot
        if snap is not None and snap.status == "queued" and snap.info.get("slurm_job_id"):
            self._cancel_queued_job(dict(snap.info))
        else:
            self._send("stop")

    @work(thread=True, exclusive=True, group="slurm-cancel")
    def _cancel_queued_job(self, info: dict[str, object]) -> None:
        """scancel can take seconds on a busy cluster: run it off the UI thread."""
        from engine.core.errors import UserError
        from engine.core.slurm import cancel_queued_run

        try:
            message = cancel_queued_run(self._stream.paths, info)
        except (UserError, OSError) as exc:
            self.app.call_from_thread(self.notify, f"could not cancel: {exc}", title="Stop", severity="error")
            return
        self.app.call_from_thread(self.notify, message, title="Stop", timeout=4)

    def action_steer(self) -> None:
        """Open the 'set key=value' dialog (it reports the engine's answer itself)."""
        live = self._snapshot is not None and self._snapshot.status in STEERABLE
        self.app.push_screen(SteerDialog(self.run_dir, live=live))

    def action_pause(self) -> None:
        """Pause a running run, resume a paused one."""
        paused = self._snapshot is not None and self._snapshot.status == "paused"
        self._send("resume" if paused else "pause")

    def action_images(self) -> None:
        """The run's evaluation figures, one at a time, followed live."""
        from tui.screens.image_view import ImageViewScreen  # numpy and Pillow: not at console start

        self.app.push_screen(ImageViewScreen(self.run_dir))

    def action_run_info(self) -> None:
        """Provenance and stored checkpoints of the run."""
        from tui.screens.run_info import RunInfoScreen

        self.app.push_screen(RunInfoScreen(self.run_dir))

    def action_open_log(self) -> None:
        """The whole output.log on its own screen (the log panel shows only its tail)."""
        from tui.screens.log_view import LogViewScreen

        self.app.push_screen(LogViewScreen(self._stream.paths.output_log))

    def action_eval(self) -> None:
        """Ask the engine to evaluate now."""
        self._send("eval")

    def action_checkpoint(self) -> None:
        """Ask the engine to save a checkpoint now."""
        self._send("checkpoint")

    def _send(self, action: str) -> None:
        """Append a command to control.jsonl; the engine answers with a control event."""
        snap = self._snapshot
        if snap is None or snap.status not in STEERABLE:
            self.notify(
                f"the run is {snap.status if snap else 'loading'}: nothing to {action}", severity="warning"
            )
            return
        try:
            command_id = send_control(self._stream.paths.control, action)
        except (OSError, ValueError) as exc:  # a read-only folder, a full disk: say so, never crash
            self.notify(f"could not send '{action}': {exc}", severity="error", markup=False)
            return
        self._sent[command_id] = action
        self.notify(f"sent '{action}' to the engine", title="Control", timeout=2)

    def _report_evaluation(self, snap: Snapshot) -> None:
        """Once the evaluation asked for has written its results: say so, with the test sets it covered."""
        step = self._evaluating
        done = [m for m in snap.timeline if m.kind == "eval" and step is not None and m.step >= step]
        if done:
            self._evaluating = None
            self.notify(
                f"step {done[0].step:,.0f}: {done[0].label}", title="Evaluated", timeout=4, markup=False
            )

    def _report_control_answers(self, snap: Snapshot) -> None:
        """Tell the user when the engine applied or rejected a command sent from here."""
        for ev in snap.controls:
            action = self._sent.pop(str(ev.get("id")), None)
            if action is None:
                continue
            if ev.get("status") == "applied" and action == "eval" and isinstance(ev.get("step"), int):
                self._evaluating = ev["step"]  # the engine answers first, then evaluates at that step
                self.notify(f"'eval' applied at step {ev['step']}: evaluating…", title="Control", timeout=3)
            elif ev.get("status") == "applied":
                self.notify(f"'{action}' applied at step {ev.get('step', '?')}", title="Control", timeout=3)
            else:
                self.notify(
                    f"'{action}' rejected: {ev.get('reason', '')}",
                    title="Control",
                    severity="error",
                    markup=False,
                )

    # -- command palette ------------------------------------------------------------------------------

    def palette_commands(self) -> Iterator[PaletteCommand]:
        """Every action of this screen, for the command palette."""
        yield "Back to runs", "Return to the runs list", self.action_back
        yield "Stop run", "Ask the engine to stop (confirm first)", self.action_stop
        yield "Pause / unpause run", "Pause training, or unpause it", self.action_pause
        yield "Evaluate now", "Ask the engine to evaluate every test set now", self.action_eval
        yield "Checkpoint now", "Ask the engine to save last.pt now", self.action_checkpoint
        yield (
            "Set values",
            "Change LR, schedule, loss weights, frozen groups or max steps mid-run",
            self.action_steer,
        )
        yield "Zoom curves", "Whole run / last 10k / 2k / 500 steps", self.action_zoom
        yield "More smoothing", "Raise the EMA weight of the curves", lambda: self.action_smooth(1)
        yield "Less smoothing", "Lower the EMA weight of the curves", lambda: self.action_smooth(-1)
        yield "Choose charts", "Any logged series or eval metric over steps (g)", self.action_pick_charts
        yield "Log scale", "Toggle log y on the charts (y)", self.action_log_y
        yield "x axis", "Step → epoch → time (a)", self.action_x_axis
        yield "Cursor", "Exact values at a step ([ and ], { } jump; esc hides)", lambda: self.action_cursor(1)
        yield "Marker list", "Every freeze, set, eval and pause (m)", self.action_markers
        yield "Pick baseline", "Compare the eval table against another run", self.action_baseline
        yield "Figures", "The run's evaluation figures, followed live (i)", self.action_images
        yield "Run info", "Code, versions, host, command, weights; checkpoints kept (I)", self.action_run_info
        for i, panel in enumerate(PANELS, start=1):
            yield f"Show {panel} panel", f"Key {i}", _bind(self.action_panel, panel)


def _bind(action: Callable[[str], None], arg: str) -> Callable[[], None]:
    """`action(arg)` as a zero-argument callback."""
    return lambda: action(arg)
