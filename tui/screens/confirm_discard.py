"""'Leave with unsaved changes?' — asked by the composer and the launcher before Esc closes them."""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static

LeaveAnswer = Literal["keep-editing", "keep-draft", "discard"]
"""Stay on the screen; leave and find the draft there next time; leave and forget it."""


class ConfirmDiscard(ModalScreen[LeaveAnswer]):
    """k / Escape keeps editing, l leaves keeping the draft, d discards it; Enter keeps editing (the safe one)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k,escape,enter", "answer('keep-editing')", "Keep editing"),
        Binding("l", "answer('keep-draft')", "Leave, keep draft"),
        Binding("d", "answer('discard')", "Discard"),
    ]
    DEFAULT_CSS = """
    ConfirmDiscard { align: center middle; }
    ConfirmDiscard > Static {
        width: auto; max-width: 70; border: round $warning; background: $surface; padding: 1 2;
    }
    """

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        """What would be lost ('this run', 'these overrides')."""

    def compose(self) -> ComposeResult:
        """The question and its three answers."""
        yield Static(
            Text.assemble(
                ("Unsaved changes", "bold"),
                f" to {self.what}.\n\n",
                ("k", "bold"),
                " keep editing   ",
                ("l", "bold"),
                " leave, keep the draft   ",
                ("d", "bold"),
                " discard",
            ),
            id="confirm-discard",
        )

    def action_answer(self, answer: LeaveAnswer) -> None:
        """Close with the answer."""
        self.dismiss(answer)
