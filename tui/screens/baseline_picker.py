"""A small dialog to pick the baseline run the eval table compares against (or none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist

from engine.core.protocol import headline, list_runs

NO_BASELINE = ""
"""Returned when the user clears the baseline."""


def main_metric(info: dict[str, Any]) -> str:
    """'R@1 85.3' / 'mIoU 71.4' / 'top1 64.2': the run's published main metric, best on its first test set."""
    found = headline(info)
    return f"{found[1]} {found[2]:.1f}" if found is not None else ""


class BaselinePicker(ModalScreen[str | None]):
    """The other runs of the runs directory; returns the chosen folder, "" for none, None if cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    BaselinePicker { align: center middle; }
    BaselinePicker > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 80%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    BaselinePicker #picker-title { height: 1; margin-bottom: 1; text-style: bold; }
    BaselinePicker OptionList { height: auto; max-height: 20; }
    """

    def __init__(self, runs_dir: Path, exclude: str, current: str | None = None) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.exclude = exclude
        self.current = current

    def compose(self) -> ComposeResult:
        """Title and the list of runs (newest first), with "no baseline" on top."""
        runs = [r for r in list_runs(self.runs_dir) if r["id"] != self.exclude]
        options = [Option(Text("— no baseline —", style="dim"), id=NO_BASELINE or "-none-")]
        for run in runs:
            options.append(Option(self._label(run), id=str(run["dir"])))
        with Vertical():
            yield Static("Compare the eval table against…", id="picker-title")
            yield OptionList(*options, id="picker-list")

    def on_mount(self) -> None:
        """Highlight the current baseline."""
        picker = self.query_one(OptionList)
        if self.current:
            try:
                picker.highlighted = picker.get_option_index(self.current)
            except OptionDoesNotExist:  # the current baseline vanished from the list
                picker.highlighted = 0
        picker.focus()

    def _label(self, run: dict[str, Any]) -> Text:
        """'20251008-r50-gem-baseline   r50-gem-baseline   completed   R@1 85.3'."""
        text = Text(f"{run['id']:<34.34}", style="bold")
        text.append(f" {run.get('name') or ''!s:<22.22}")
        text.append(f" {run.get('status', ''):<11}", style="dim")
        text.append(f" {main_metric(run):>10}")
        return text

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Return the chosen run folder ("" for none)."""
        option_id = event.option.id or ""
        self.dismiss(NO_BASELINE if option_id == "-none-" else option_id)

    def action_cancel(self) -> None:
        """Close without changing the baseline."""
        self.dismiss(None)
