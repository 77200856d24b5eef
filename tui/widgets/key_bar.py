"""A one-line key bar: the screen's shown bindings drawn as one Text, redrawn (never recomposed) on change.

Textual's Footer mounts one widget per key and recomposes them on every focus or binding change; on
the runs screen that was 0.3 s of the console's cold start. This bar draws the same hints in one
render, keeps mouse clicks working (a click presses the key under the pointer), and packs the
hints tighter, dropping the last ones, when the terminal is narrow (the palette lists every action).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

PALETTE_LABEL = "palette"
"""Description shown for the command palette key, drawn at the right end."""


class KeyBar(Widget, can_focus=False):
    """Key hints of the current screen's active bindings; disabled ones dimmed."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description", "key-bar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyBar > .key-bar--disabled {
        color: $text-disabled;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._spans: list[tuple[int, int, str]] = []
        """(start, end, key) of each drawn hint, for mouse clicks."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh()

    def hints(self) -> tuple[list[tuple[str, str, str, bool]], tuple[str, str, str, bool] | None]:
        """(key, shown key, description, enabled) per shown binding, one per action; and the palette key."""
        seen: set[str] = set()
        hints: list[tuple[str, str, str, bool]] = []
        palette = None
        active = self.screen.active_bindings
        for key, (_node, binding, enabled, _tooltip) in active.items():
            if self.app.ENABLE_COMMAND_PALETTE and key == self.app.COMMAND_PALETTE_BINDING:
                palette = (binding.key, self.app.get_key_display(binding), PALETTE_LABEL, enabled)
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            hints.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        return hints, palette

    def render(self) -> Text:
        hints, palette = self.hints()
        width = self.size.width or 80
        styles = (
            self.get_component_rich_style("key-bar--key"),
            self.get_component_rich_style("key-bar--description"),
            self.get_component_rich_style("key-bar--disabled"),
        )
        tail = f" {palette[1]} {palette[2]} " if palette else ""
        room = width - len(tail)
        roomy = sum(len(shown) + len(desc) + 4 for _k, shown, desc, _e in hints) <= room
        line, spans = Text(no_wrap=True, overflow="crop"), []
        for key, shown, description, enabled in hints:
            # roomy: " key desc " pills with a gap; narrow: "key desc" with one space, trailing hints dropped
            pieces = (
                [(f" {shown} ", 0), (f"{description} ", 1)] if roomy else [(shown, 0), (f" {description}", 1)]
            )
            size = sum(len(piece) for piece, _ in pieces) + 1
            if line.cell_len + size > room:
                break
            start = line.cell_len
            for piece, kind in pieces:
                line.append(piece, styles[kind if enabled else 2])
            spans.append((start, line.cell_len, key))
            line.append(" ")
        if palette:
            line.pad_right(max(0, room - line.cell_len))
            start = line.cell_len
            line.append(f" {palette[1]} ", styles[0])
            line.append(f"{palette[2]} ", styles[1])
            spans.append((start, line.cell_len, palette[0]))
        self._spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        """Press the key whose hint was clicked."""
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
