"""'Delete this run?' — the runs screen asks before moving a run folder to the trash."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmDelete(ModalScreen[bool]):
    """'Delete X?' — y / Enter moves it to the trash, n / Escape keeps it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Delete"),
        Binding("n,escape", "answer(False)", "Keep"),
    ]
    DEFAULT_CSS = """
    ConfirmDelete { align: center middle; }
    ConfirmDelete > Static {
        width: auto; max-width: 80; border: round $error; background: $surface; padding: 1 2;
    }
    """

    def __init__(self, run_name: str, trash: str) -> None:
        super().__init__()
        self.run_name, self.trash = run_name, trash

    def compose(self) -> ComposeResult:
        """The question, and where the run goes."""
        yield Static(
            Text.assemble(
                "Delete ",
                (self.run_name, "bold"),
                "?\n\n",
                (
                    f"Its folder moves to {self.trash}; `labconsole trash` restores it or empties the trash.\n",
                    "dim",
                ),
                ("y", "bold"),
                " delete   ",
                ("n", "bold"),
                " keep",
            )
        )

    def action_answer(self, delete: bool) -> None:
        """Close with the answer."""
        self.dismiss(delete)
