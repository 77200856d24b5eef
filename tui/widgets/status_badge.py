"""Run status as coloured text with a glyph (an animated spinner while running), as a function and a widget."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.widgets.quiet_update import update_quietly

SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
"""Braille spinner shown in front of "running"; one frame per tick."""

SPINNER_FPS = 2
"""Spinner frames per second (the runs table ticks at this rate): a calm pulse, as every redraw of a live line costs
CPU and terminal output."""

GLYPHS = {
    "queued": "○",
    "paused": "‖",
    "completed": "✓",
    "failed": "✗",
    "stopped": "■",
    "interrupted": "↯",
    "damaged": "⚠",
}
"""A glyph per finished or waiting status, so the status reads without colour (NO_COLOR)."""

PALETTES = {
    True: {  # dark themes
        "running": "#5FB3F9",
        "queued": "#9AA5B1",
        "paused": "#C792EA",
        "completed": "#4EBF71",
        "failed": "#F0506E",
        "stopped": "#E5C07B",
        "interrupted": "#E5C07B",
        "damaged": "#F0506E",
    },
    False: {  # light themes
        "running": "#0E6FBF",
        "queued": "#6B7280",
        "paused": "#7E57C2",
        "completed": "#1E8E3E",
        "failed": "#C62828",
        "stopped": "#9A5B00",
        "interrupted": "#9A5B00",
        "damaged": "#C62828",
    },
}
"""Status colours with meaning: running blue, paused violet, done green, failed and damaged red,
stopped/interrupted amber."""

STATUS_WIDTH = 13
"""Cells needed for the widest badge ("↯ interrupted")."""


def spinner_frame(now: float) -> str:
    """The spinner frame to show at time `now` (a pure function of the clock, so frozen clocks freeze it)."""
    return SPINNER_FRAMES[int(now * SPINNER_FPS) % len(SPINNER_FRAMES)]


def status_colour(status: str, dark: bool = True) -> str:
    """The colour of a status on a dark or light theme (grey for unknown statuses)."""
    return PALETTES[dark].get(status, PALETTES[dark]["queued"])


def status_text(status: str, now: float, dark: bool = True) -> Text:
    """'⠹ running', '✓ completed', … coloured by meaning."""
    glyph = spinner_frame(now) if status == "running" else GLYPHS.get(status, "?")
    colour = status_colour(status, dark)
    text = Text(f"{glyph} ", style=f"bold {colour}")
    text.append(status, style=colour)
    return text


class StatusBadge(Static):
    """A status badge for headers; animates its spinner while the status is "running"."""

    DEFAULT_CSS = """
    StatusBadge { width: auto; height: 1; }
    """

    status: reactive[str] = reactive("queued")
    """The run status shown (one of engine.core.protocol.STATUSES)."""

    def __init__(
        self, status: str = "queued", clock: Callable[[], float] = time.time, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._clock = clock
        self._drawn_at = 0.0
        self.set_reactive(StatusBadge.status, status)

    def on_mount(self) -> None:
        """Start the spinner clock and draw the first frame."""
        self.set_interval(1 / SPINNER_FPS, self._tick)
        self.watch(self.app, "theme", lambda _: self._draw(), init=False)
        self._draw()

    def watch_status(self) -> None:
        """Redraw when the status changes."""
        self._draw()

    def _tick(self) -> None:
        """Advance the spinner (only a running badge changes) unless a header redraw just did."""
        if self.status == "running" and time.monotonic() - self._drawn_at >= 0.9 / SPINNER_FPS:
            self._draw()

    def advance(self) -> None:
        """Move the spinner now, with whatever else is being redrawn (one frame instead of two)."""
        if self.status == "running":
            self._draw()

    def _draw(self) -> None:
        """Render the badge for the current status, clock and theme."""
        if self.is_mounted:
            self._drawn_at = time.monotonic()
            update_quietly(self, status_text(self.status, self._clock(), self.app.current_theme.dark))
