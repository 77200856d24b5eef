"""The loss row: one loss preset with its fields, or a mix of loss presets with weights (add/remove)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Label, Select

from engine.core.config import list_presets
from tui.data.composer_config import Section, component_value, format_value, parse_value, split_section
from tui.widgets.composer_slot import FieldInput, SlotRow

MIX = "mix"
"""The loss preset that sums weighted components."""

DEFAULT_COMPONENTS = (("cosface", "0.7"), ("multi_similarity", "0.3"))
"""What a new mix starts with when the single loss gives no hint (the VPR mix of the experiment logs)."""


class MixComponent(Horizontal):
    """One loss of a mix: its preset and its weight (its other keys are carried over from the base config)."""

    DEFAULT_CSS = """
    MixComponent { height: 1; }
    MixComponent .mix-select { width: 24; }
    MixComponent .mix-weight-label { width: auto; padding: 0 1; color: $text-muted; }
    MixComponent .slot-field { width: 10; }
    MixComponent Button { min-width: 3; width: 3; margin-left: 1; }
    """

    def __init__(self, section: Section, weight: str, index: int) -> None:
        super().__init__()
        self.section = section
        """The component's preset and carried-over keys."""
        self.weight = FieldInput("weight", f"loss.components[{index}].weight", weight)
        """The weight's Input; its path follows the component's position."""

    def compose(self) -> ComposeResult:
        """Preset picker, weight, remove button."""
        options = [(name, name) for name in list_presets("loss") if name != MIX]
        yield Select(
            options,
            value=self.section.preset or Select.NULL,
            allow_blank=False,
            compact=True,
            classes="mix-select",
        )
        yield Label("weight", classes="mix-weight-label")
        yield self.weight
        yield Button("✕", compact=True, classes="mix-remove", tooltip="Remove this loss")

    def on_select_changed(self, event: Select.Changed) -> None:
        """Another loss: its own defaults (the old one's keys no longer apply); the row posts Changed."""
        if event.value != self.section.preset:
            self.section = Section(str(event.value))

    def value(self) -> dict[str, Any]:
        """`{preset: x, weight: w, ...}`."""
        return component_value(self.section, self.weight.value)

    def set_index(self, index: int) -> None:
        """Follow a new position in the mix (errors name `loss.components[i]`)."""
        self.weight.path = f"loss.components[{index}].weight"


class LossRow(SlotRow):
    """The loss slot; picking `mix` turns the fields into editable component rows."""

    DEFAULT_CSS = """
    LossRow .mix-rows { column-span: 4; height: auto; }
    LossRow .mix-add { width: auto; min-width: 8; }
    """

    def __init__(self, section: Section, id: str | None = None) -> None:
        self._components = self._read_components(section)
        super().__init__("loss", "loss", "loss", section, id=id)

    @staticmethod
    def _read_components(section: Section) -> list[tuple[Section, str]]:
        """Components of a mix section, from the text of its `components` field."""
        text = section.fields.pop("components", "") or "null"
        items = parse_value(text) if section.preset == MIX else None
        components = []
        for item in items if isinstance(items, list) else []:
            item = {"preset": item} if isinstance(item, str) else dict(item) if isinstance(item, dict) else {}
            weight = item.pop("weight", 1.0)
            components.append((split_section("loss", "loss", item), format_value(weight)))
        return components

    def body_widgets(self) -> list[Widget]:
        """The component rows and an add button for a mix, else the single loss's fields."""
        if self.section.preset != MIX:
            return super().body_widgets()
        rows = [MixComponent(section, weight, i) for i, (section, weight) in enumerate(self._components)]
        return [Vertical(*rows, Button("+ loss", compact=True, classes="mix-add"), classes="mix-rows")]

    def new_section(self, preset: str) -> Section:
        """Switching to mix starts from the current loss (weight 1) or the default VPR mix."""
        if preset == MIX:
            single = self.section.preset
            pairs = [(single, "1.0")] if single and single != MIX else list(DEFAULT_COMPONENTS)
            self._components = [(Section(name), weight) for name, weight in pairs]
            return Section(MIX)
        return super().new_section(preset)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        """Add a loss to the mix, or remove one (a mix keeps at least one)."""
        event.stop()
        rows = self.query_one(".mix-rows", Vertical)
        components = list(self.query(MixComponent))
        if event.button.has_class("mix-add"):
            used = {c.section.preset for c in components}
            name = next((n for n in list_presets("loss") if n != MIX and n not in used), "multi_similarity")
            await rows.mount(MixComponent(Section(name), "1.0", len(components)), before=event.button)
        elif len(components) > 1 and isinstance(event.button.parent, MixComponent):
            await event.button.parent.remove()
        for index, component in enumerate(self.query(MixComponent)):
            component.set_index(index)
        self.post_message(self.Changed(self))

    def value(self) -> Any:
        """A single loss as usual; a mix as `{preset: mix, components: [...]}`."""
        if self.section.preset != MIX:
            return super().value()
        return {
            "preset": MIX,
            "components": [c.value() for c in self.query(MixComponent)],
            **self.section.extras,
        }
