"""The whole of a run's output.log, followed as it grows, with a search that keeps only the matching lines."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, Log, Static

from tui.widgets.key_bar import KeyBar

FOLLOW_SECONDS = 1.0
"""How often the file is checked for new lines (one os.stat when nothing changed)."""
MAX_BYTES = 16 * 2**20
"""Only the last 16 MB of a huge log are read: a tool's progress bars can write gigabytes."""


class LogViewScreen(Screen[None]):
    """output.log whole (its last 16 MB): new lines arrive every second; `/` keeps the lines containing a text."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding(
            "slash", "search", "Search", tooltip="Keep only the lines containing a text (case-insensitive)"
        ),
        Binding("end,G", "follow", "Follow", tooltip="Jump to the newest line and keep following"),
    ]

    DEFAULT_CSS = """
    LogViewScreen #log-title { height: 1; padding: 0 1; text-style: bold; }
    LogViewScreen #log-search { display: none; }
    LogViewScreen #log-search.open { display: block; }
    LogViewScreen Log { height: 1fr; }
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        """The output.log shown."""
        self.lines: list[str] = []
        """Every line read so far (the last MAX_BYTES of the file, then whatever it appends)."""
        self.query_text = ""
        """The search: shown lines contain it (case-insensitive); empty shows every line."""
        self._offset = 0
        self._carry = b""

    def compose(self) -> ComposeResult:
        yield Static(id="log-title")
        yield Input(
            placeholder="search output.log (enter keeps the matching lines, esc clears)",
            id="log-search",
            compact=True,
        )
        yield Log(highlight=False, auto_scroll=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self._read_new()
        self._refill()
        self.query_one(Log).focus()
        self.set_interval(FOLLOW_SECONDS, self._follow)

    # -- reading -------------------------------------------------------------------------------------

    def _read_new(self) -> list[str]:
        """Complete lines appended since the last look (a truncated file is read again from its start)."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        if size < self._offset:
            self._offset, self._carry, self.lines = 0, b"", []
        if size == self._offset:
            return []
        start = max(self._offset, size - MAX_BYTES)
        skipped = start > self._offset
        with open(self.path, "rb") as log:
            log.seek(start)
            data = log.read(size - start)
        data = data.split(b"\n", 1)[-1] if skipped else self._carry + data  # skipped: began mid-line
        self._offset = size
        *complete, self._carry = data.split(b"\n")
        new = [line.decode("utf-8", "replace").rstrip("\r") for line in complete]
        self.lines.extend(new)
        return new

    def _follow(self) -> None:
        new = self._read_new()
        shown = [line for line in new if self._matches(line)]
        if shown:
            self.query_one(Log).write_lines(shown)
        if new:
            self._show_title()

    def _matches(self, line: str) -> bool:
        return not self.query_text or self.query_text.lower() in line.lower()

    def _refill(self) -> None:
        log = self.query_one(Log)
        log.clear()
        log.write_lines([line for line in self.lines if self._matches(line)])
        self._show_title()

    def _show_title(self) -> None:
        title = Text.assemble(("output.log", "bold"), f"  {len(self.lines):,} lines", style="")
        if self.query_text:
            matched = sum(1 for line in self.lines if self._matches(line))
            title.append(f" · {matched:,} containing '{self.query_text}'", style="bold yellow")
        title.append(f"   {self.path}", style="dim")
        self.query_one("#log-title", Static).update(title)

    # -- keys --------------------------------------------------------------------------------------------

    def action_search(self) -> None:
        field = self.query_one("#log-search", Input)
        field.add_class("open")
        field.value = self.query_text
        field.focus()
        self.call_after_refresh(
            self.query_one(Log).scroll_end, animate=False
        )  # the newest line stays in view

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_text = event.value.strip()
        event.input.remove_class("open")
        self._refill()
        self.query_one(Log).focus()

    def action_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = True
        log.scroll_end(animate=False)

    def action_back(self) -> None:
        """Esc closes the search first, then clears it, then leaves."""
        field = self.query_one("#log-search", Input)
        if field.has_class("open"):
            field.remove_class("open")
            self.query_one(Log).focus()
        elif self.query_text:
            self.query_text = ""
            self._refill()
        else:
            self.dismiss(None)
