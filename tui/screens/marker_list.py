"""Every marker of a run in step order (freeze, set, evaluation, pause, resume); enter puts the cursor there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.data.run_snapshot import Marker


class MarkerList(ModalScreen[float | None]):
    """Returns the chosen marker's step, or None when closed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,m", "close", "Close"),
    ]

    DEFAULT_CSS = """
    MarkerList { align: center middle; }
    MarkerList > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    MarkerList #markers-title { height: 1; margin-bottom: 1; }
    MarkerList OptionList { height: auto; max-height: 30; }
    """

    def __init__(self, markers: Sequence[Marker], colours: dict[str, tuple[int, int, int]]) -> None:
        super().__init__()
        self.markers = list(markers)
        self.colours = colours

    def compose(self) -> ComposeResult:
        title = Text("Markers", style="bold")
        title.append(f"   {len(self.markers)} · enter: cursor there · esc closes", style="dim")
        options = [Option(self._label(m), id=str(i)) for i, m in enumerate(self.markers)]
        with Vertical():
            yield Static(title, id="markers-title")
            if options:
                yield OptionList(*options, id="markers-list")
            else:
                yield Static(Text("no markers yet (freeze, set, eval, pause)", style="dim italic"))

    def _label(self, marker: Marker) -> Text:
        """'  12,000  eval    eval pitts30k, tokyo247'."""
        colour = self.colours.get(marker.kind, (150, 150, 150))
        text = Text()
        text.append("│ ", style="rgb({},{},{})".format(*colour))
        text.append(f"{marker.step:>10,.0f}  ", style="bold")
        text.append(f"{marker.kind:<8}", style="dim")
        text.append(marker.label)
        return text

    def on_mount(self) -> None:
        for widget in self.query(OptionList):
            widget.highlighted = len(self.markers) - 1
            widget.focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.markers[int(event.option.id or 0)].step)
