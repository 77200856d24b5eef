"""Ask for a note on a run (`N` on the runs screen); the runs screen writes it to the run's run.json."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tui.data.run_notes import MAX_NOTE_CHARS


class AddNoteScreen(ModalScreen[str | None]):
    """Dismisses with the note's text (stripped, never empty), or None on escape."""

    DEFAULT_CSS = """
    AddNoteScreen { align: center middle; }
    AddNoteScreen #note-dialog { width: 80%; max-width: 100; height: auto; padding: 1 2; background: $panel;
                                 border: round $primary; }
    AddNoteScreen #note-hint { height: auto; color: $text-muted; }
    AddNoteScreen #note-hint.-error { color: $text-error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, run_name: str) -> None:
        super().__init__()
        self.run_name = run_name
        """The run the note is for (shown in the title)."""

    def compose(self) -> ComposeResult:
        """Title, text Input, hint line."""
        with Vertical(id="note-dialog"):
            # Text, not markup: the run name is the user's
            yield Label(Text.assemble("Note on ", (self.run_name, "bold")))
            yield Input(
                placeholder="what to remember about this run", max_length=MAX_NOTE_CHARS, id="note-text"
            )
            yield Static(Text("Enter adds the note to run.json · esc cancels"), id="note-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Accept any non-blank text."""
        event.stop()
        text = event.value.strip()
        if not text:
            hint = self.query_one("#note-hint", Static)
            hint.update("✗ type a note, or esc to cancel")
            hint.add_class("-error")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        """Leave without a note."""
        self.dismiss(None)
