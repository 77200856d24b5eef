"""The monitor's header: status badge, run name and what it is; progress, epoch, training img/s, ETA, elapsed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tui.data.config_summary import model_has
from tui.data.run_snapshot import Snapshot
from tui.format import fmt_duration, fmt_progress
from tui.widgets.quiet_update import update_quietly
from tui.widgets.status_badge import StatusBadge, status_colour

LIVE = ("running", "paused", "queued")
"""Statuses whose elapsed time and ETA keep moving."""


def progress_bar(step: int | None, max_steps: int | None, colour: str, width: int = 12) -> Text:
    """'━━━━━╸───────' in the status colour: done part bright, the rest a dim track."""
    frac = min(1.0, step / max_steps) if step and max_steps else 0.0
    halves = round(frac * width * 2)
    done = "━" * (halves // 2) + ("╸" if halves % 2 else "")
    return Text.assemble((done, f"bold {colour}"), ("─" * (width - len(done)), "dim"))


def header_lines(snap: Snapshot, dark: bool = True, narrow: bool = False) -> tuple[Text, Text]:
    """Line 1: name, what the run is, its id; line 2: progress, epoch, throughput, ETA, elapsed.

    `narrow` (under 100 columns) shortens line 2 to fit 80 columns.
    """
    info, cfg = snap.info, snap.config
    model = cfg.get("model")
    model = model if isinstance(model, dict) else {}
    parts = [
        info.get("task") or _name(cfg.get("task")),
        _name(model.get("backbone")),
        _name(model.get("aggregator")) if model_has(info, "aggregator") else "",
        _name(cfg.get("loss")),
    ]
    first = Text.assemble((str(info.get("name") or snap.run_id), "bold"))
    what = " · ".join(p for p in parts if p)
    if what:
        first.append(f"  {what}")
    first.append(f"  {snap.run_id}", style="dim")
    second = progress_bar(
        snap.step, snap.max_steps, status_colour(snap.status, dark), width=8 if narrow else 12
    )
    pct = f" {100 * snap.step / snap.max_steps:.0f}%" if snap.step is not None and snap.max_steps else ""
    steps = fmt_progress(snap.step, snap.max_steps) if narrow else _steps(snap.step, snap.max_steps)
    second.append(f" {'' if narrow else 'step '}{steps}", style="bold")
    second.append(pct)
    sep = " │ " if narrow else "  │  "
    if (
        snap.phase and snap.phase != "training" and snap.status == "running"
    ):  # before the gauges: 80 columns cut
        second.append(sep, style="dim")
        second.append(snap.phase_message or snap.phase, style="italic")
    for label, value in _gauges(snap, narrow):
        second.append(sep, style="dim")
        second.append(label, style="dim")
        second.append(value, style="bold")
    return first, second


def _gauges(snap: Snapshot, narrow: bool = False) -> list[tuple[str, str]]:
    """(label, value) pairs of the header's second line; `narrow` shortens the labels to fit 80 columns (the
    system panel still names the throughput "train")."""
    img = snap.train_img_per_s()
    gauges = [
        ("ep " if narrow else "epoch ", f"{snap.epoch:.1f}" if snap.epoch is not None else "–"),
        ("" if narrow else "train ", f"{img:,.0f} img/s" if img is not None else "– img/s"),
    ]
    if snap.status in ("running", "paused", "queued"):
        gauges.append(("ETA ", fmt_duration(snap.eta)))
    gauges.append(("elapsed ", fmt_duration(snap.elapsed)))
    return gauges


def _steps(step: int | None, max_steps: int | None) -> str:
    """'3,250/10,000' with full digits (the header has room)."""
    if step is None:
        return "–"
    return f"{step:,}/{max_steps:,}" if max_steps else f"{step:,}"


def _name(section: object) -> str:
    """A config section's name (sections are mappings with "name", or plain preset names)."""
    if isinstance(section, dict):
        return str(section.get("name") or section.get("preset") or "")
    return str(section) if section else ""


class RunHeader(Vertical):
    """Two lines on a panel background; `show` draws a snapshot, `tick` moves the clock of a live run."""

    DEFAULT_CSS = """
    RunHeader { height: 2; background: $panel; }
    RunHeader > Horizontal { height: 1; padding: 0 1; }
    RunHeader StatusBadge { margin-right: 2; }
    RunHeader .header-line { width: 1fr; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    RunHeader #header-gauges { padding: 0 1; }
    """

    def __init__(self, clock: Callable[[], float], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self.ticked_at = 0.0
        """time.monotonic() of the last redraw (the monitor's clock tick skips a header drawn just now)."""

    def compose(self) -> ComposeResult:
        """Badge and title line, then the gauges line."""
        with Horizontal():
            yield StatusBadge("queued", clock=self._clock, id="header-status")
            yield Static(id="header-title", classes="header-line")
        yield Static(id="header-gauges", classes="header-line")

    def show(self, snapshot: Snapshot) -> None:
        """Draw `snapshot` (its clock is replaced by ours for a live run)."""
        self._snapshot = snapshot
        self.tick()

    def tick(self) -> None:
        """Redraw with the current time: elapsed and ETA move while the run is live."""
        snap = self._snapshot
        if snap is None or not self.is_mounted:
            return
        if snap.status in LIVE:
            snap = replace(snap, now=self._clock())
        first, second = header_lines(snap, self.app.current_theme.dark, narrow=self.size.width < 100)
        badge = self.query_one(StatusBadge)
        badge.status = snap.status
        badge.advance()  # the spinner moves in the same frame as the header, not in one of its own
        update_quietly(self.query_one("#header-title", Static), first)
        update_quietly(self.query_one("#header-gauges", Static), second)
        self.ticked_at = time.monotonic()
