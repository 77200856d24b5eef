"""Routing panel of the monitor: per stage a bar per expert (share of patches), the stage's entropy, and the
latest evaluation's mutual information and route clusters. Shown only for runs that log `routing/util_*`."""

from __future__ import annotations

import math
import time

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from tui.data.routing_view import RoutingView, routing_view
from tui.data.run_snapshot import Snapshot
from tui.widgets.curves import REDRAW_INTERVAL
from tui.widgets.quiet_update import update_quietly

EXPERT_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
"""Tableau 10, the colours the routing-map figure tints each expert's patches with."""
EIGHTHS = " ▏▎▍▌▋▊▉"
"""Partial cells of a bar, in eighths."""
MAX_BAR = 16
"""Cells of the widest bar (a full bar is 100% of the stage's patches)."""
TRACK = "░"
OFF_MARK = "✕ off"
ACTIVE = "-active"
"""The panel's class while the run logs routing (the screen's CSS shows it only then)."""


def share_bar(share: float, width: int) -> tuple[str, str]:
    """`share` (0..1) of `width` cells in eighth-cell steps, as (bar, track): the track fills the rest, so that
    the scale (a full bar is 100%) shows."""
    eighths = round(min(max(share, 0.0), 1.0) * width * 8) if math.isfinite(share) else 0
    full, part = divmod(eighths, 8)
    filled = "█" * full + (EIGHTHS[part] if part else "")
    return filled, TRACK * (width - len(filled))


def _cell_layout(width: int, experts: int, label: int) -> int:
    """Cells of each expert's bar on a line `width` wide (0: percentages only)."""
    entropy = len(" H 0.00b")
    per_expert = (width - label - entropy - (experts - 1)) // max(1, experts)
    return max(0, min(MAX_BAR, per_expert - len(" 100%")))


def _pct(share: float) -> str:
    return "  –" if not math.isfinite(share) else f"{100 * share:3.0f}"


def stage_line(view: RoutingView, index: int, width: int) -> Text:
    """'s0 ██▌ 31% █▉ 24% …  H 1.93b': a bar and a share per expert, a switched-off one marked."""
    stage = view.stages[index]
    label = f"s{stage.stage} "
    bar_width = _cell_layout(width, view.num_experts, len(label))
    line = Text(label, style="bold", no_wrap=True, overflow="ellipsis")
    for expert, share in enumerate(stage.shares):
        colour = EXPERT_COLOURS[expert % len(EXPERT_COLOURS)]
        if expert:
            line.append(" ")
        if expert in view.switched_off and bar_width:
            mark = OFF_MARK if bar_width >= len(OFF_MARK) else "✕"
            line.append(mark.ljust(bar_width + 1), style="bold red")
            line.append(f"{_pct(share)}%", style="red")
            continue
        if expert in view.switched_off:  # no room for bars: the mark after the share
            line.append(f"{_pct(share)}%", style="red")
            line.append("✕", style="bold red")
            continue
        if bar_width:
            filled, track = share_bar(share, bar_width)
            line.append(filled, style=colour)
            line.append(track, style="dim")
            line.append(" ")
        line.append(f"{_pct(share)}%", style=None if bar_width else colour)
    if stage.entropy_bits is not None and math.isfinite(stage.entropy_bits):
        line.append(f" H {stage.entropy_bits:.2f}b", style="cyan")
    return line


def evaluation_line(view: RoutingView, width: int) -> Text:
    """'eval @2,000 val · MI 0.41b · clusters 5 · routes 23 · balance 1.02' (the latest evaluation); what does not
    fit in `width` is left off from the end (MI and clusters come first)."""
    line = Text(no_wrap=True, overflow="ellipsis")
    ev = view.evaluation
    if ev is None:
        line.append("no evaluation yet: MI and route clusters come with the first", style="dim")
        return line
    at = f"@{ev.step:,} " if ev.step is not None else ""
    line.append(f"eval {at}{ev.split}", style="dim")
    parts = []
    if ev.mi_bits is not None:
        parts.append(("MI ", f"{ev.mi_bits:.2f}b"))
    if ev.route_clusters is not None:
        parts.append(("clusters ", f"{ev.route_clusters:.0f}"))
    if ev.routes_used is not None:
        parts.append(("routes ", f"{ev.routes_used:.0f}"))
    if ev.load_balance is not None:
        parts.append(("balance ", f"{ev.load_balance:.2f}"))
    for name, value in parts:
        if line.cell_len + len(" · ") + len(name) + len(value) > width and line.cell_len > 0:
            break
        line.append(" · ", style="dim")
        line.append(name, style="dim")
        line.append(value, style="bold")
    return line


def routing_text(view: RoutingView, width: int) -> Text:
    """Every stage's line, then the evaluation line."""
    lines = [stage_line(view, i, width) for i in range(len(view.stages))]
    return Text("\n", no_wrap=True, overflow="ellipsis").join([*lines, evaluation_line(view, width)])


class RoutingPanel(Static):
    """Per-stage expert utilisation bars and entropy, the latest evaluation's routing diagnostics.

    Redrawn with the monitor's charts: at once the first time, then at most once per REDRAW_INTERVAL.
    """

    class Toggled(Message):
        """The panel appeared (the run started logging routing) or went away (another run shown)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._snapshot: Snapshot | None = None
        self._dirty = False
        self._drawn_at = 0.0
        self._drawn: tuple[object, ...] | None = None

    @property
    def active(self) -> bool:
        """True while the run shown logs routing."""
        return self.has_class(ACTIVE)

    def on_mount(self) -> None:
        """Check for new data at most REDRAW_INTERVAL apart."""
        self.set_interval(REDRAW_INTERVAL, self._redraw_if_dirty)

    def on_resize(self) -> None:
        """Bars take the width there is."""
        self._redraw()

    def on_show(self) -> None:
        """Shown again (key 3 at 80×24): drawn at the width it has now, whether or not that changed."""
        self._drawn = None
        self._redraw()

    def show(self, snapshot: Snapshot) -> None:
        """New data: drawn at once the first time, then at the next tick."""
        first = self._snapshot is None or not self._snapshot.events_read
        if first or snapshot.version != self._snapshot.version:  # type: ignore[union-attr]
            self._snapshot = snapshot
            self._dirty = True
        if first:
            self._redraw()

    def _redraw_if_dirty(self) -> None:
        if self._dirty and time.monotonic() - self._drawn_at >= 0.8 * REDRAW_INTERVAL:
            self._redraw()

    def _redraw(self) -> None:
        snapshot = self._snapshot
        if snapshot is None:
            return
        self._dirty = False
        self._drawn_at = time.monotonic()
        width = self.content_size.width
        key = (snapshot.version, width)
        if key == self._drawn:
            return
        self._drawn = key
        view = routing_view(snapshot.scalars, snapshot.evals, snapshot.controls)
        if (view is not None) != self.active:
            self.set_class(view is not None, ACTIVE)
            self.post_message(self.Toggled())
        if view is None or not width:  # hidden: drawn once shown (a resize) at the width it gets
            return
        step = f" @ step {view.step:,}" if view.step is not None else ""
        title = f"routing{step}"
        subtitle = f"H max {view.max_entropy_bits:.2f}b"
        if (self.border_title, self.border_subtitle) != (title, subtitle):
            self.border_title, self.border_subtitle = title, subtitle
        update_quietly(self, routing_text(view, width))
