"""The composer's free-form `key=value` overrides box: applied over the rows, one override a line."""

from __future__ import annotations

from typing import Any

from textual.widget import Widget
from textual.widgets import TextArea

from engine.core.config.overrides import apply_overrides
from engine.core.config.resolve import is_preset_section, order_overrides
from engine.core.errors import ConfigError, UserError
from tui.data.override_lines import OVERRIDES_HINT, error_line, parse_overrides
from tui.widgets.composer_slot import SlotRow


class OverridesRow(SlotRow):
    """Any key the rows do not show, as in the launcher: `train.grad_clip=1.0`, one a line, `#` comments."""

    DEFAULT_CSS = """
    OverridesRow .slot-fields { grid-size: 1; grid-columns: 1fr; }
    OverridesRow TextArea { height: 4; border: none; padding: 0; background: $boost; }
    OverridesRow TextArea:focus { background: $boost 200%; }
    OverridesRow TextArea.-invalid { background: $error 30%; }
    """

    def __init__(self, text: str = "", id: str | None = None) -> None:
        self._initial = text
        self.problem = ""
        """Why the overrides could not be applied ('' when they were)."""
        super().__init__("overrides", None, "overrides", id=id)

    def body_widgets(self) -> list[Widget]:
        """The editor."""
        editor = TextArea(self._initial, soft_wrap=True, show_line_numbers=False, compact=True)
        editor.placeholder = OVERRIDES_HINT
        return [editor]

    @property
    def text(self) -> str:
        """The editor's text."""
        editors = list(self.query(TextArea))
        return editors[0].text if editors else self._initial

    def focus_target(self) -> Widget | None:
        """A jump lands in the editor."""
        return next(iter(self.query(TextArea)), None)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """Revalidate (the composer debounces)."""
        event.stop()
        self.post_message(self.Changed(self))

    def contribute(self, raw: dict[str, Any]) -> None:
        """Apply the overrides over the config the other rows wrote (a bad line applies none: `problem`)."""
        overrides, problem = parse_overrides(self.text)
        self.problem = f"line {problem[0]}: {problem[1]}" if problem else ""
        if problem:
            return
        try:
            apply_overrides(raw, order_overrides(overrides), is_preset_section)
        except (ConfigError, UserError) as exc:
            self.problem = str(exc)

    def owns(self, key: str) -> bool:
        """Whether an error at `key` comes from one of the override lines."""
        return error_line(self.text, key) is not None

    def show_error(self, key: str | None, message: str = "") -> None:
        """The error under the box; the editor marked."""
        super().show_error(key, message)
        for editor in self.query(TextArea):
            editor.set_class(key is not None, "-invalid")
