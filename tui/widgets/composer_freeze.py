"""The freeze row: a freeze preset with its fields, and its phases (if it has any) as editable rows."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Label, Select

from tui.data.composer_config import Section, format_value, parse_value, preset_fields
from tui.widgets.composer_slot import FieldInput, SlotRow, word_list

PHASES = "phases"
"""The freeze key holding a list of phases (the progressive preset's)."""

UNITS = ("step", "epoch")
"""What a phase's start counts: optimizer steps or epochs."""

ALL = "all"
"""A phase's `trainable` meaning every group."""


def phase_fields(phase: Any) -> tuple[str, str, str]:
    """(start text, unit, trainable text) of one `{at_step|at_epoch, trainable}` phase."""
    item = phase if isinstance(phase, dict) else {}
    unit = "epoch" if "at_epoch" in item else "step"
    start = item.get(f"at_{unit}", 0)
    trainable = item.get("trainable", ALL)
    words = trainable if isinstance(trainable, list) else [trainable]
    return format_value(start), unit, ", ".join(str(w) for w in words)


def phase_value(start: str, unit: str, trainable: str) -> dict[str, Any]:
    """One phase as the config writes it; `all` stays a word, anything else a list of group paths."""
    words = word_list(trainable)
    paths: Any = ALL if words == [ALL] else words
    return {f"at_{unit}": parse_value(start) if start.strip() else 0, "trainable": paths}


class PhaseRow(Horizontal):
    """One freeze phase: from <start> <step|epoch> train <group paths> ✕."""

    DEFAULT_CSS = """
    PhaseRow { height: auto; }
    PhaseRow > Horizontal { height: 1; }
    PhaseRow .phase-when { width: auto; }
    PhaseRow .phase-what { width: 1fr; }
    PhaseRow .phase-word { width: auto; padding: 0 1 0 0; color: $text-muted; }
    PhaseRow .phase-start { width: 8; }
    PhaseRow .phase-unit { width: 10; margin: 0 1; }
    PhaseRow .phase-trainable { width: 1fr; }
    PhaseRow Button { min-width: 3; width: 3; margin-left: 1; }
    """

    def __init__(self, start: str, unit: str, trainable: str, index: int) -> None:
        super().__init__()
        self.unit = unit
        """`step` or `epoch`."""
        self.start = FieldInput("phase.start", "", start, "When the phase starts (a step, or an epoch)")
        self.start.add_class("phase-start")
        self.trainable = FieldInput(
            "phase.trainable",
            "",
            trainable,
            "What trains from then on: all, or group paths (backbone, aggregator, head, backbone.-1, "
            "backbone.layer3+); the rest is frozen",
        )
        self.trainable.add_class("phase-trainable")
        self.trainable.remove_class("-wide")
        self.set_index(index)

    def compose(self) -> ComposeResult:
        """from [start] [unit] train [paths] ✕"""
        with Horizontal(classes="phase-when"):
            yield Label("from", classes="phase-word")
            yield self.start
            yield Select(
                [(u, u) for u in UNITS],
                value=self.unit,
                allow_blank=False,
                compact=True,
                classes="phase-unit",
            )
        with Horizontal(classes="phase-what"):
            yield Label("train", classes="phase-word")
            yield self.trainable
            yield Button("✕", compact=True, classes="phase-remove", tooltip="Remove this phase")

    def on_select_changed(self, event: Select.Changed) -> None:
        """Steps or epochs; the row posts Changed."""
        self.unit = str(event.value)
        self.set_index(self.index)

    def set_index(self, index: int) -> None:
        """Follow a position among the phases (errors name `freeze.phases[i].at_step`)."""
        self.index = index
        self.start.path = f"freeze.{PHASES}[{index}].at_{self.unit}"
        self.trainable.path = f"freeze.{PHASES}[{index}].trainable"

    def value(self) -> dict[str, Any]:
        """`{at_step: 0, trainable: [head]}`."""
        return phase_value(self.start.value, self.unit, self.trainable.value)


class FreezeRow(SlotRow):
    """The freeze slot; a preset with phases shows them as rows (add, remove, edit), not one line of YAML."""

    DEFAULT_CSS = """
    FreezeRow .phase-rows { column-span: 4; height: auto; }
    FreezeRow .phase-add { width: auto; min-width: 9; }
    """

    def __init__(self, section: Section, help: dict[str, str] | None = None, id: str | None = None) -> None:
        self._phases = self._read_phases(section)
        super().__init__("freeze", "freeze", "freeze", section, help=help, id=id)

    @staticmethod
    def _read_phases(section: Section) -> list[tuple[str, str, str]] | None:
        """The phases of a section that has them (its `phases` text taken out of the plain fields)."""
        if PHASES not in section.fields:
            return None
        items = parse_value(section.fields.pop(PHASES))
        if not isinstance(items, list):  # null: the preset's own phases
            items = preset_fields("freeze", str(section.preset)).get(PHASES) or []
        return [phase_fields(item) for item in items]

    def body_widgets(self) -> list[Widget]:
        """The preset's plain fields, then one row per phase and an add button."""
        widgets = super().body_widgets()
        if self._phases is None:
            return widgets
        rows = [PhaseRow(*phase, index) for index, phase in enumerate(self._phases)]
        add = Button("+ phase", compact=True, classes="phase-add", tooltip="Add a phase after the last")
        return [*widgets, Vertical(*rows, add, classes="phase-rows")]

    def new_section(self, preset: str) -> Section:
        """A preset's defaults; its phases become rows."""
        section = super().new_section(preset)
        self._phases = self._read_phases(section)
        return section

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        """Add a phase (one epoch after the last, everything trainable), or remove one."""
        event.stop()
        rows = list(self.query(PhaseRow))
        if event.button.has_class("phase-add"):
            last = rows[-1].value() if rows else {"at_step": 0}
            unit = "epoch" if "at_epoch" in last else "step"
            start = format_value((last.get(f"at_{unit}") or 0) + (1 if unit == "epoch" else 1000))
            container = self.query_one(".phase-rows", Vertical)
            await container.mount(PhaseRow(start, unit, ALL, len(rows)), before=event.button)
        else:
            owner = next((r for r in rows if event.button in r.query(Button)), None)
            if owner is not None:
                await owner.remove()
        for index, row in enumerate(self.query(PhaseRow)):
            row.set_index(index)
        self.post_message(self.Changed(self))

    def current_section(self) -> Section:
        """The plain fields' texts (phase rows are read by `value`)."""
        texts = {i.key: i.value for i in self.query(FieldInput) if i.key in self.section.fields}
        return Section(self.section.preset, {**self.section.fields, **texts}, self.section.extras)

    def value(self) -> Any:
        """The section value, with the phases when they differ from the preset's."""
        value = super().value()
        if self._phases is None or not self.is_mounted:
            return value
        phases = [row.value() for row in self.query(PhaseRow)]
        if phases == preset_fields("freeze", str(self.section.preset)).get(PHASES):
            return value
        body = {"preset": value} if isinstance(value, str) else dict(value)
        return {**body, PHASES: phases}
