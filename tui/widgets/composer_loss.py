"""The loss row: one loss preset with its fields, or a mix of loss presets with weights (add/remove)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Label, Select

from engine.core.config import list_presets
from tui.data.composer_config import (
    Section,
    component_value,
    format_value,
    parse_value,
    preset_fields,
    split_section,
)
from tui.widgets.composer_slot import FieldInput, SlotRow

MIX = "mix"
"""The loss preset that sums weighted components."""

DEFAULT_COMPONENTS = (("cosface", "0.7"), ("multi_similarity", "0.3"))
"""What a new mix starts with when the single loss gives no hint (the VPR mix of the experiment logs)."""


class MixComponent(Vertical):
    """One loss of a mix: its preset, its weight and its own parameters (margin, scale, ...)."""

    DEFAULT_CSS = """
    MixComponent { height: auto; }
    MixComponent .mix-head { height: 1; }
    MixComponent .mix-select { width: 24; }
    MixComponent .mix-weight-label { width: auto; padding: 0 1; color: $text-muted; }
    MixComponent .mix-head .slot-field { width: 10; }
    MixComponent Button { min-width: 3; width: 3; margin-left: 1; }
    MixComponent .mix-fields { height: auto; grid-size: 4; grid-columns: auto 1fr auto 1fr; grid-rows: auto;
                               grid-gutter: 0 1; padding-left: 2; }
    MixComponent .mix-fields.-empty { display: none; }
    """

    def __init__(self, section: Section, weight: str, index: int, task: str | None = None) -> None:
        super().__init__()
        self.section = section
        """The component's preset, the text of its own fields and carried-over keys."""
        self.index = index
        """Position in the mix (errors name `loss.components[i]`)."""
        self.run_task = task
        """The run's task: the losses made for it are offered."""
        self.weight = FieldInput("weight", f"loss.components[{index}].weight", weight)
        """The weight's Input; its path follows the component's position."""

    def _options(self) -> list[tuple[str, str]]:
        """The losses made for the task (no mix in a mix), and the current one whatever it is."""
        names = [n for n in list_presets("loss", self.run_task) if n != MIX]
        if self.section.preset and self.section.preset not in names:
            names = sorted([*names, self.section.preset])
        return [(name, name) for name in names]

    def set_task(self, task: str | None) -> None:
        """Offer another task's losses (the chosen one stays)."""
        self.run_task = task
        select = self.query_one(".mix-select", Select)
        with select.prevent(Select.Changed):
            select.set_options(self._options())
            if self.section.preset:
                select.value = self.section.preset

    def compose(self) -> ComposeResult:
        """Preset picker, weight, remove button; the preset's own fields below."""
        with Horizontal(classes="mix-head"):
            yield Select(
                self._options(),
                value=self.section.preset or Select.NULL,
                allow_blank=False,
                compact=True,
                classes="mix-select",
            )
            yield Label("weight", classes="mix-weight-label")
            yield self.weight
            yield Button("✕", compact=True, classes="mix-remove", tooltip="Remove this loss")
        fields = self._field_widgets()
        yield Grid(*fields, classes="mix-fields" + ("" if fields else " -empty"))

    def _field_widgets(self) -> list[Widget]:
        widgets: list[Widget] = []
        for key, text in self.section.fields.items():
            widgets += [
                Label(key, classes="field-label"),
                FieldInput(key, f"loss.components[{self.index}].{key}", text),
            ]
        return widgets

    async def on_select_changed(self, event: Select.Changed) -> None:
        """Another loss: its own defaults (the old one's keys no longer apply); the row posts Changed."""
        if event.value == self.section.preset:
            return
        name = str(event.value)
        defaults = {k: format_value(v, v) for k, v in preset_fields("loss", name).items()}
        self.section = Section(name, defaults)
        grid = self.query_one(".mix-fields", Grid)
        await grid.remove_children()
        fields = self._field_widgets()
        grid.set_class(not fields, "-empty")
        await grid.mount_all(fields)

    def current_section(self) -> Section:
        """The section with the texts its Inputs hold now."""
        texts = {i.key: i.value for i in self.query(FieldInput) if i is not self.weight}
        return Section(self.section.preset, {**self.section.fields, **texts}, self.section.extras)

    def value(self) -> dict[str, Any]:
        """`{preset: x, weight: w, changed keys...}`."""
        return component_value(self.current_section(), self.weight.value)

    def set_index(self, index: int) -> None:
        """Follow a new position in the mix (errors name `loss.components[i]`)."""
        self.index = index
        for field_input in self.query(FieldInput):
            field_input.path = f"loss.components[{index}].{field_input.key}"


class LossRow(SlotRow):
    """The loss slot; picking `mix` turns the fields into editable component rows."""

    DEFAULT_CSS = """
    LossRow .mix-rows { column-span: 4; height: auto; }
    LossRow .mix-add { width: auto; min-width: 8; }
    """

    def __init__(self, section: Section, id: str | None = None, task: str | None = None) -> None:
        self._components = self._read_components(section)
        super().__init__("loss", "loss", "loss", section, id=id, task=task)

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
        rows = [
            MixComponent(section, weight, i, self.run_task)
            for i, (section, weight) in enumerate(self._components)
        ]
        return [Vertical(*rows, Button("+ loss", compact=True, classes="mix-add"), classes="mix-rows")]

    def new_section(self, preset: str) -> Section:
        """Switching to mix starts from the current loss (weight 1) or the default VPR mix."""
        if preset == MIX:
            single = self.section.preset
            if single and single != MIX:  # the loss so far, its edited fields kept, becomes the first term
                self._components = [(self.current_section(), "1.0")]
            else:
                fitting = [n for n in list_presets("loss", self.run_task) if n != MIX]
                pairs = list(DEFAULT_COMPONENTS)
                if not all(name in fitting for name, _ in pairs):
                    pairs = [(name, "1.0") for name in fitting[:2]]
                self._components = [(Section(n, self._default_texts(n)), w) for n, w in pairs]
            return Section(MIX)
        return super().new_section(preset)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        """Add a loss to the mix, or remove one (a mix keeps at least one)."""
        event.stop()
        rows = self.query_one(".mix-rows", Vertical)
        components = list(self.query(MixComponent))
        if event.button.has_class("mix-add"):
            used = {c.section.preset for c in components}
            fitting = [n for n in list_presets("loss", self.run_task) if n != MIX]
            name = next((n for n in fitting if n not in used), fitting[0] if fitting else "multi_similarity")
            added = MixComponent(
                Section(name, self._default_texts(name)), "1.0", len(components), self.run_task
            )
            await rows.mount(added, before=event.button)
        elif len(components) > 1:
            owner = next((c for c in components if event.button in c.query(Button)), None)
            if owner is not None:
                await owner.remove()
        for index, component in enumerate(self.query(MixComponent)):
            component.set_index(index)
        self.post_message(self.Changed(self))

    def set_task(self, task: str | None) -> None:
        """Another task: the single loss's and every component's choices follow."""
        super().set_task(task)
        for component in self.query(MixComponent):
            component.set_task(task)

    def value(self) -> Any:
        """A single loss as usual; a mix as `{preset: mix, components: [...]}`."""
        if self.section.preset != MIX:
            return super().value()
        return {
            "preset": MIX,
            "components": [c.value() for c in self.query(MixComponent)],
            **self.section.extras,
        }
