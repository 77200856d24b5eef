"""The tail of a run's output.log, newest line at the bottom, errors and warnings coloured."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

_ERROR = re.compile(r"error|traceback|exception|out of memory|killed|nan\b", re.IGNORECASE)
_WARNING = re.compile(r"warn", re.IGNORECASE)


def line_style(line: str) -> str:
    """Red for errors and tracebacks, amber for warnings, plain otherwise."""
    if _ERROR.search(line):
        return "bold red"
    if _WARNING.search(line):
        return "yellow"
    return ""


class LogTail(Static):
    """As many of the last log lines as fit; long lines are cut, not wrapped (the tail stays a tail)."""

    ALLOW_MAXIMIZE = True
    """Keys 1–4 can give the panel the whole screen."""

    DEFAULT_CSS = """
    LogTail { height: 1fr; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._lines: tuple[str, ...] = ()

    def show(self, lines: Sequence[str]) -> None:
        """New tail lines (redrawn only when they changed)."""
        lines = tuple(lines)
        if lines != self._lines:
            self._lines = lines
            self._draw()

    def on_resize(self) -> None:
        """A different height shows a different number of lines."""
        self._draw()

    def _draw(self) -> None:
        """The last lines that fit in the widget."""
        rows = max(1, self.content_size.height or 1)
        text = Text(no_wrap=True, overflow="ellipsis")
        shown = self._lines[-rows:]
        if not shown:
            text.append("output.log is empty", style="dim italic")
        for i, line in enumerate(shown):
            text.append(line, style=line_style(line))
            if i < len(shown) - 1:
                text.append("\n")
        self.update(text)
