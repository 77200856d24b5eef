"""'Stop this sweep?' — asked before the sweep table sends a stop (the run monitor's confirmation, for a sweep)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from tui.screens.confirm_stop import ConfirmStop


class ConfirmSweepStop(ConfirmStop):
    """'Stop sweep X?' — y / Enter stops every running point and skips the queued ones, n / Escape keeps it."""

    def __init__(self, sweep_name: str, running: int, queued: int) -> None:
        super().__init__(sweep_name)
        self.running = running
        self.queued = queued

    def compose(self) -> ComposeResult:
        """The question, and what a stop does to the points."""
        yield Static(
            Text.assemble(
                "Stop sweep ",
                (self.run_name, "bold"),
                "?\n\n",
                (
                    f"{self.running} running point{'s' if self.running != 1 else ''} save last.pt and end; "
                    f"{self.queued} queued {'are' if self.queued != 1 else 'is'} skipped (r resumes them).\n",
                    "dim",
                ),
                ("y", "bold"),
                " stop   ",
                ("n", "bold"),
                " keep running",
            )
        )
