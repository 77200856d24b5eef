"""One composer row: a slot's preset picker and description, its key fields as Inputs, its inline error."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from engine.core.config import TYPED_SECTIONS, describe_presets, list_presets
from tui.data.composer_config import (
    Section,
    format_value,
    key_under,
    parse_value,
    preset_fields,
    section_value,
    set_path,
)

WIDE_TEXT = 16
"""Fields whose initial text is longer than this span the rest of the grid line (freeze phases, lists)."""

TEXT_PATHS = ("name", "description")
"""Fields taken as plain text, never parsed as YAML."""

WORD_LIST_PATHS = ("tags",)
"""Fields taken as comma-separated words (`demo, synthetic`), brackets optional."""


def word_list(text: str) -> list[str]:
    """`demo, synthetic` or `[demo, synthetic]` as ['demo', 'synthetic']."""
    return [word.strip().strip("'\"") for word in text.strip().strip("[]").split(",") if word.strip()]


def field_text_value(path: str, text: str) -> Any:
    """An extra field's text as its config value (plain text, a word list, or a YAML value)."""
    if path in TEXT_PATHS:
        return text.strip()
    if path in WORD_LIST_PATHS:
        return word_list(text)
    return parse_value(text)


class FieldInput(Input):
    """An Input editing one config key; `path` is its full dotted key (what ConfigError.key names)."""

    def __init__(self, key: str, path: str, value: str, help: str = "") -> None:
        wide = len(value) > WIDE_TEXT
        super().__init__(
            value,
            placeholder="default",
            compact=True,
            tooltip=help or None,
            classes="slot-field -wide" if wide else "slot-field",
        )
        self.key = key
        """The key inside its section (`lr`), or the dotted path of a model/train-level field."""
        self.path = path
        """The full dotted key (`optim.lr`, `model.descriptor_dim`)."""


class SlotRow(Vertical):
    """A slot of the run config; posts `SlotRow.Changed` whenever its value may have changed."""

    DEFAULT_CSS = """
    SlotRow { height: auto; padding: 0 1 0 0; }
    SlotRow .slot-head { height: 1; }
    SlotRow .slot-label { width: 11; text-style: bold; color: $text-accent; }
    SlotRow .slot-select { width: 24; }
    SlotRow .slot-desc { width: 1fr; height: 1; padding-left: 1; color: $text-muted; text-wrap: nowrap;
                          text-overflow: ellipsis; }
    SlotRow .slot-fields { height: auto; grid-size: 4; grid-columns: auto 1fr auto 1fr; grid-rows: auto;
                           grid-gutter: 0 1; padding-left: 11; }
    SlotRow .slot-fields.-empty { display: none; }
    SlotRow .field-label { color: $text-muted; width: auto; }
    SlotRow .slot-field.-wide { column-span: 3; }
    SlotRow .slot-field.-invalid { background: $error 30%; }
    SlotRow .slot-error { height: auto; padding-left: 11; color: $text-error; display: none; }
    SlotRow.-error .slot-error { display: block; }
    SlotRow.-error .slot-label { color: $text-error; }
    """

    class Changed(Message):
        """The row's preset or one of its fields changed (the composer revalidates)."""

        def __init__(self, row: SlotRow) -> None:
            super().__init__()
            self.row = row

    def __init__(
        self,
        label: str,
        slot: str | None,
        path: str,
        section: Section | None = None,
        extra_fields: dict[str, str] | None = None,
        help: dict[str, str] | None = None,
        id: str | None = None,
        task: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.run_task = task
        """The run's task: only presets made for it are offered (plus the current one, whatever it is)."""
        self.label = label
        """Row title (`backbone`)."""
        self.slot = slot
        """Preset slot (`presets/<slot>/`), or None for a row of plain fields."""
        self.path = path
        """Dotted section path the row writes (`model.backbone`)."""
        self.section = section or Section(None)
        """Preset, field texts and carried-over keys."""
        self.extra_fields = dict(extra_fields or {})
        """Dotted path -> text of fields outside the section (`model.descriptor_dim`)."""
        self.help = dict(help or {})
        """Field key -> help line (tooltips)."""
        self._descriptions = describe_presets(slot) if slot else {}

    # -- building -------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Head line (label, preset, description), the field grid, the error line."""
        with Horizontal(classes="slot-head"):
            yield Label(self.label, classes="slot-label")
            if self.slot:
                yield Select(
                    self._options(),
                    value=self.section.preset or Select.NULL,
                    allow_blank=False,
                    compact=True,
                    tooltip=self._description() or None,
                    classes="slot-select",
                )
            yield Static(self._description(), classes="slot-desc")
        body = list(self.body_widgets())
        yield Grid(*body, classes="slot-fields" + ("" if body else " -empty"))
        yield Static(classes="slot-error")

    def _options(self) -> list[tuple[str, str]]:
        """The Select's choices: the presets fitting the task, and the current preset even if it does not."""
        names = list_presets(str(self.slot), self.run_task)
        current = self.section.preset
        if current and current not in names and current in list_presets(str(self.slot)):
            names = sorted([*names, current])
        return [(name, name) for name in names]

    def set_task(self, task: str | None) -> None:
        """Offer the presets of another task (the chosen preset stays, a warning says when it does not fit)."""
        if self.run_task == task or not self.slot:
            return
        self.run_task = task
        select = self.query_one(".slot-select", Select)
        with select.prevent(Select.Changed):
            select.set_options(self._options())
            if self.section.preset:
                select.value = self.section.preset

    def focus_target(self) -> Widget | None:
        """Where a jump to this row lands: its preset picker, else its first field."""
        if self.slot:
            return self.query_one(".slot-select", Select)
        return next(iter(self.query(FieldInput)), None)

    def body_widgets(self) -> list[Widget]:
        """Label + Input pairs for the section's fields and the extra fields."""
        inputs = [
            FieldInput(key, f"{self.path}.{key}", text, self.help.get(key, ""))
            for key, text in self.section.fields.items()
        ]
        inputs += [
            FieldInput(path, path, text, self.help.get(path) or self.help.get(path.rsplit(".", 1)[-1], ""))
            for path, text in self.extra_fields.items()
        ]
        normal = [i for i in inputs if not i.has_class("-wide")]
        wide = [i for i in inputs if i.has_class("-wide")]
        widgets: list[Widget] = []
        first_wide = wide[0] if wide else None
        for field_input in normal + wide:
            if field_input is first_wide and len(normal) % 2:
                widgets += [Static(classes="field-filler"), Static(classes="field-filler")]
            widgets += [Label(field_input.key.rsplit(".", 1)[-1], classes="field-label"), field_input]
        return widgets

    def _description(self) -> Text:
        return Text(self._descriptions.get(self.section.preset or "", ""))

    async def rebuild(self) -> None:
        """Replace the field grid (after a preset change)."""
        grid = self.query_one(".slot-fields", Grid)
        self.extra_fields.update(self._extra_texts())
        await grid.remove_children()
        body = self.body_widgets()
        grid.set_class(not body, "-empty")
        await grid.mount_all(body)
        self.query_one(".slot-desc", Static).update(self._description())
        self.query_one(".slot-select", Select).tooltip = self._description() or None

    # -- events -----------------------------------------------------------------------------------------

    async def on_select_changed(self, event: Select.Changed) -> None:
        """A new preset: its own fields replace the old ones (typed sections keep their other keys)."""
        event.stop()
        if event.select.has_class("slot-select") and event.value != self.section.preset:
            self.section = self.new_section(str(event.value))
            await self.rebuild()
        self.post_message(self.Changed(self))

    def new_section(self, preset: str) -> Section:
        """The section after picking `preset`: its defaults (typed sections keep their other keys)."""
        keep = {k: v for k, v in self.section.extras.items() if k != "name"} if self._typed() else {}
        return Section(preset, self._default_texts(preset), keep)

    def on_input_changed(self, event: Input.Changed) -> None:
        """A field was edited."""
        event.stop()
        self.post_message(self.Changed(self))

    def _typed(self) -> bool:
        return self.path in TYPED_SECTIONS

    def _default_texts(self, preset: str) -> dict[str, str]:
        return {k: format_value(v, v) for k, v in preset_fields(str(self.slot), preset).items()}

    # -- value ------------------------------------------------------------------------------------------

    def current_section(self) -> Section:
        """The section with the texts the Inputs hold now."""
        texts = {i.key: i.value for i in self.query(FieldInput) if i.key in self.section.fields}
        return Section(self.section.preset, {**self.section.fields, **texts}, self.section.extras)

    def _extra_texts(self) -> dict[str, str]:
        return {i.path: i.value for i in self.query(FieldInput) if i.path in self.extra_fields}

    def value(self) -> Any:
        """The section's config value (a preset name or a mapping)."""
        return section_value(str(self.slot), self.current_section())

    def contribute(self, raw: dict[str, Any]) -> None:
        """Write this row's section and extra fields into a raw run config."""
        if self.slot:
            set_path(raw, self.path, self.value())
        for path, text in {**self.extra_fields, **self._extra_texts()}.items():
            if text.strip():
                set_path(raw, path, field_text_value(path, text))

    # -- errors -----------------------------------------------------------------------------------------

    def owns(self, key: str) -> bool:
        """Whether a ConfigError at `key` belongs to this row."""
        in_section = bool(self.slot) and key_under(key, self.path)
        return in_section or any(key_under(key, p) for p in self.extra_fields)

    def show_error(self, key: str | None, message: str = "") -> None:
        """Show `key: message` under the row and mark the matching field (None clears)."""
        self.set_class(key is not None, "-error")
        for field_input in self.query(FieldInput):
            field_input.set_class(key is not None and key_under(key, field_input.path), "-invalid")
        if key is not None:
            where = key[len(self.path) + 1 :] if key.startswith(self.path + ".") else key
            self.query_one(".slot-error", Static).update(Text(f"✗ {where}: {message}"))
