"""The chart picker: every series a run logged, grouped; the ticked ones become the panel's charts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from tui.data.chart_prefs import MAX_CHARTS
from tui.data.chart_series import DEFAULT_CHARTS, Choice

GROUP_WIDTH = 9
"""Columns of the group column: loss, lr, training, eval, system, or a model's own prefix (routing)."""


class SeriesPicker(ModalScreen[list[str] | None]):
    """Space ticks a chart, g ticks (or unticks) every chart of the highlighted one's group, enter shows the
    ticked ones (in this order), r resets, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "apply", "Show", priority=True),
        Binding("r", "reset", "Defaults"),
        Binding("g", "tick_group", "Whole group"),
    ]

    DEFAULT_CSS = """
    SeriesPicker { align: center middle; }
    SeriesPicker > Vertical {
        width: 70; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    SeriesPicker #series-title { height: auto; margin-bottom: 1; }
    SeriesPicker SelectionList { height: auto; max-height: 30; }
    """

    def __init__(
        self, choices: Sequence[Choice], chosen: Sequence[str], defaults: Sequence[str] = DEFAULT_CHARTS
    ):
        super().__init__()
        self.choices = list(choices)
        self.chosen = [c for c in chosen if any(ch.chart == c for ch in self.choices)]
        self.defaults = list(defaults)

    def compose(self) -> ComposeResult:
        """Title and one tickable line per chart, group names in front."""
        title = Text("Charts", style="bold")
        title.append(f"  space tick · g group · enter show (≤ {MAX_CHARTS}) · r defaults · esc", style="dim")
        with Vertical():
            yield Static(title, id="series-title")
            yield SelectionList[str](*self._selections(self.chosen), id="series-list")

    def _selections(self, chosen: Sequence[str]) -> list[Selection[str]]:
        rows = []
        for choice in self.choices:
            label = Text(f"{choice.group:<{GROUP_WIDTH}.{GROUP_WIDTH}} ", style="dim")
            label.append(choice.label)
            rows.append(Selection(label, choice.chart, choice.chart in chosen, id=choice.chart))
        return rows

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_reset(self) -> None:
        """Tick the defaults only."""
        picker = self.query_one(SelectionList)
        picker.deselect_all()
        for chart in self.defaults:
            if any(ch.chart == chart for ch in self.choices):
                picker.select(chart)

    def action_tick_group(self) -> None:
        """Tick every chart of the highlighted chart's group; untick them all when they all were ticked."""
        picker = self.query_one(SelectionList)
        if picker.highlighted is None:
            return
        chart = picker.get_option_at_index(picker.highlighted).value
        group = next(ch.group for ch in self.choices if ch.chart == chart)
        members = [ch.chart for ch in self.choices if ch.group == group]
        ticked = set(picker.selected)
        for member in members:
            if all(m in ticked for m in members):
                picker.deselect(member)
            else:
                picker.select(member)

    def action_apply(self) -> None:
        """Return the ticked charts in the list's order (an empty choice keeps what was shown)."""
        ticked = set(self.query_one(SelectionList).selected)
        charts = [ch.chart for ch in self.choices if ch.chart in ticked]
        if not charts:
            self.notify("tick at least one chart (space)", severity="warning")
            return
        if len(charts) > MAX_CHARTS:
            self.notify(f"showing the first {MAX_CHARTS} of the {len(charts)} ticked charts")
        self.dismiss(charts[:MAX_CHARTS])
