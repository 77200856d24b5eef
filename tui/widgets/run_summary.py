"""A three-line summary of the selected run under the runs table: identity, timing, best metrics or error."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

from tui.data.run_index import RunRow
from tui.format import fmt_duration, fmt_metric
from tui.widgets.status_badge import status_colour

MAX_METRICS_PER_SPLIT = 4
"""Metrics shown per split (per-class IoUs are left to the monitor)."""


def _clock_time(t: float | None) -> str:
    """'Oct 08 06:53' in local time."""
    return "–" if t is None else time.strftime("%b %d %H:%M", time.localtime(t))


def identity_line(row: RunRow) -> Text:
    """Name, id, task, model and loss, tags."""
    text = Text.assemble((row.name, "bold"), "  ", (row.id, "dim"))
    model = " → ".join(p for p in (row.backbone, row.aggregator) if p)
    for part in (row.task, model, row.loss):
        if part:
            text.append(" · ")
            text.append(part)
    if row.tags:
        text.append("  " + " ".join(f"#{t}" for t in row.tags), style="dim")
    return text


def timing_line(row: RunRow, now: float) -> Text:
    """Start, end (or elapsed), host, and the latest note (cut at the panel's edge)."""
    if row.started is None:
        text = Text(f"queued {_clock_time(row.created)}", style="dim")
    else:
        text = Text(f"started {_clock_time(row.started)}")
        if row.ended is not None:
            text.append(f" · ended {_clock_time(row.ended)}")
        duration = row.duration(now)
        if duration is not None:
            text.append(f" · {fmt_duration(duration)}")
    if row.host:
        text.append(f" · {row.host}", style="dim")
    if row.latest_note:
        # appended as plain text: a note's brackets are shown, never read as markup
        text.append("  ✎ ", style="dim")
        text.append(" ".join(row.latest_note.split()), style="italic")
    return text


def metrics_line(row: RunRow) -> Text:
    """Best metrics per split: 'pitts30k R@1 85.3 R@5 92.1 │ tokyo247 …'."""
    text = Text("best ", style="dim")
    if not row.best:
        return text.append("no evaluation yet", style="dim")
    for i, (split, metrics) in enumerate(row.best.items()):
        if i:
            text.append(" │ ", style="dim")
        text.append(split, style="bold")
        shown = [(k, v) for k, v in metrics.items() if not k.startswith("IoU/")][:MAX_METRICS_PER_SPLIT]
        for name, value in shown:
            text.append(f" {name} ", style="dim")
            text.append(fmt_metric(value))
    return text


def problem_line(row: RunRow, dark: bool) -> Text | None:
    """Why a run failed or is damaged, or what to do with an interrupted one (None for healthy runs)."""
    colour = status_colour(row.status, dark)
    if row.status == "damaged":
        return Text(f"⚠ {row.damage}", style=colour)
    if row.status == "failed":
        return Text(f"✗ {row.error or 'failed (see output.log)'}", style=colour)
    if row.status == "interrupted":
        return Text.assemble(
            ("↯ engine process gone", colour),
            ("  continue it with ", "dim"),
            (f"labconsole resume {row.id}", "bold"),
        )
    return None


class RunSummary(Static):
    """Details of the run under the cursor."""

    DEFAULT_CSS = """
    RunSummary {
        height: 4;
        padding: 0 1;
        border-top: solid $panel-lighten-2;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._clock = clock

    def show_run(self, row: RunRow | None) -> None:
        """Describe `row` (blank when None)."""
        if row is None:
            self.update("")
            return
        dark = self.app.current_theme.dark
        third = problem_line(row, dark) or metrics_line(row)
        self.update(Text("\n").join([identity_line(row), timing_line(row, self._clock()), third]))
