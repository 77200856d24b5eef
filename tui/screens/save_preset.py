"""Ask for a run preset's name: `[A-Za-z0-9._-]+`; overwriting a user preset takes a second Enter, a shipped
preset's name is refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

PRESET_NAME = re.compile(r"[A-Za-z0-9._-]+")
"""Allowed preset names (they become file names and run names)."""


def name_problem(name: str) -> str:
    """Why `name` cannot name a preset ('' when it can)."""
    if not name:
        return "type a name"
    if not PRESET_NAME.fullmatch(name) or name.startswith("."):
        return "use letters, digits, '.', '_' and '-' only"
    return ""


class SavePresetScreen(ModalScreen[str | None]):
    """Dismisses with an accepted name, or None on escape."""

    DEFAULT_CSS = """
    SavePresetScreen { align: center middle; }
    SavePresetScreen #save-dialog { width: 60; height: auto; padding: 1 2; background: $panel;
                                    border: round $primary; }
    SavePresetScreen #save-note { height: auto; color: $text-muted; }
    SavePresetScreen #save-note.-warning { color: $text-warning; }
    SavePresetScreen #save-note.-error { color: $text-error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        suggestion: str,
        exists: Callable[[str], bool],
        folder: str = "presets/runs",
        shipped: Callable[[str], bool] = lambda name: False,
    ) -> None:
        super().__init__()
        self.suggestion = suggestion
        """The name the Input starts with."""
        self.exists = exists
        """Whether a preset of that name already exists."""
        self.folder = folder
        """Where the preset goes (shown in the note)."""
        self.shipped = shipped
        """Whether a shipped preset has that name (never written over)."""
        self._confirmed = ""

    def compose(self) -> ComposeResult:
        """Title, name Input, note line."""
        with Vertical(id="save-dialog"):
            yield Label(Text("Save as a run preset", style="bold"))
            yield Input(self.suggestion, placeholder="preset name", id="save-name")
            yield Static(Text(f"Enter saves to {self.folder}/<name>.yaml · esc cancels"), id="save-note")

    def on_input_changed(self, event: Input.Changed) -> None:
        """A new name needs its own confirmation."""
        self._confirmed = ""
        self._note(f"Enter saves to {self.folder}/{event.value.strip() or '<name>'}.yaml · esc cancels")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Accept a valid name; an existing user preset needs a second Enter, a shipped one's name is refused."""
        name = event.value.strip()
        problem = name_problem(name) or (
            f"'{name}' is a shipped preset: choose another name" if self.shipped(name) else ""
        )
        if problem:
            self._note(f"✗ {problem}", "-error")
        elif self.exists(name) and self._confirmed != name:
            self._confirmed = name
            self._note(f"{self.folder}/{name}.yaml exists: Enter again to overwrite it", "-warning")
        else:
            self.dismiss(name)

    def _note(self, text: str, kind: str = "") -> None:
        note = self.query_one("#save-note", Static)
        note.set_classes(kind)
        note.update(Text(text))

    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)
