"""'Stop this run?' — the confirmation the monitor asks before sending a stop command."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmStop(ModalScreen[bool]):
    """'Stop run X?' — y / Enter stops, n / Escape keeps it running."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Stop run"),
        Binding("n,escape", "answer(False)", "Keep running"),
    ]
    DEFAULT_CSS = """
    ConfirmStop { align: center middle; }
    ConfirmStop > Static {
        width: auto; max-width: 70; border: round $error; background: $surface; padding: 1 2;
    }
    """

    def __init__(self, run_name: str) -> None:
        super().__init__()
        self.run_name = run_name

    def compose(self) -> ComposeResult:
        """The question."""
        yield Static(
            Text.assemble(
                "Stop ",
                (self.run_name, "bold"),
                "?\n\n",
                ("The engine saves last.pt and exits.  ", "dim"),
                ("y", "bold"),
                " stop   ",
                ("n", "bold"),
                " keep running",
            )
        )

    def action_answer(self, stop: bool) -> None:
        """Close with the answer."""
        self.dismiss(stop)
