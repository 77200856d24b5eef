"""'Rerun this run?' — names what changed since the run ran before launching its config again."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmRerun(ModalScreen[bool]):
    """'Rerun X as X-2?' with the list of changes; y / Enter launches, n / Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Rerun"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]
    DEFAULT_CSS = """
    ConfirmRerun { align: center middle; }
    ConfirmRerun > Static {
        width: auto; max-width: 90; border: round $primary; background: $surface; padding: 1 2;
    }
    """

    def __init__(self, run_name: str, new_name: str, changes: list[str]) -> None:
        super().__init__()
        self.run_name, self.new_name, self.changes = run_name, new_name, changes

    def compose(self) -> ComposeResult:
        """The question, then what changed (or that nothing did)."""
        text = Text.assemble("Rerun ", (self.run_name, "bold"), " as ", (self.new_name, "bold"), "?\n\n")
        if self.changes:
            text.append("Changed since it ran:\n", style="bold yellow")
            for change in self.changes:
                text.append(f"  • {change}\n", style="yellow")
        else:
            text.append("Same code, packages and weights as when it ran.\n", style="green")
        text.append("\nIts config.yaml is launched as is.  ", style="dim")
        text.append_text(Text.assemble(("y", "bold"), " rerun   ", ("n", "bold"), " cancel"))
        yield Static(text)

    def action_answer(self, rerun: bool) -> None:
        """Close with the answer."""
        self.dismiss(rerun)
