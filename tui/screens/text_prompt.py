"""Ask for one line of text in a small dialog: a note on a run (`N`), a config key to show as a column (`+`)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class TextPromptScreen(ModalScreen[str | None]):
    """Dismisses with the text typed (stripped, never empty), or None on escape."""

    DEFAULT_CSS = """
    TextPromptScreen { align: center middle; }
    TextPromptScreen #prompt-dialog { width: 80%; max-width: 100; height: auto; padding: 1 2;
                                      background: $panel; border: round $primary; }
    TextPromptScreen #prompt-hint { height: auto; color: $text-muted; }
    TextPromptScreen #prompt-hint.-error { color: $text-error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: Text, placeholder: str, hint: str, max_length: int = 0) -> None:
        super().__init__()
        self.title_text = title
        """The question (a Text: run names in it are the user's, never markup)."""
        self.placeholder = placeholder
        self.hint = hint
        """What Enter does, under the input."""
        self.max_length = max_length
        """Longest text accepted (0: no limit)."""

    def compose(self) -> ComposeResult:
        """Title, text Input, hint line."""
        with Vertical(id="prompt-dialog"):
            yield Label(self.title_text)
            yield Input(placeholder=self.placeholder, max_length=self.max_length, id="prompt-text")
            yield Static(Text(self.hint), id="prompt-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Accept any non-blank text."""
        event.stop()
        text = event.value.strip()
        if not text:
            hint = self.query_one("#prompt-hint", Static)
            hint.update("✗ type something, or esc to cancel")
            hint.add_class("-error")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        """Leave without an answer."""
        self.dismiss(None)
