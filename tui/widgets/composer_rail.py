"""The composer's section rail: every section with the key that jumps to it, the current one highlighted."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


def rail_text(sections: list[tuple[str, str]], current: str) -> Text:
    """`run r · task k · ...`: each label with its jump key underlined (inside the word when it occurs there)."""
    text = Text()
    for index, (label, key) in enumerate(sections):
        if index:
            text.append("  ")
        click = Style(meta={"@click": f"screen.jump('{key}')"})
        base = Style(reverse=True, bold=True) if label == current else Style()
        at = label.find(key)
        if at < 0:
            text.append(f"{key}:", base + Style(bold=True, underline=True) + click)
            text.append(label, base + click)
            continue
        text.append(label[:at], base + click)
        text.append(label[at], base + Style(bold=True, underline=True) + click)
        text.append(label[at + 1 :], base + click)
    return text


class SectionRail(Static):
    """One line (two when narrow) of sections; a key or a click jumps."""

    DEFAULT_CSS = """
    SectionRail { height: auto; padding: 0 1; color: $text-muted; background: $panel; }
    """

    current: reactive[str] = reactive("")
    """The label of the section holding the focus."""

    def __init__(self, sections: list[tuple[str, str]], id: str | None = None) -> None:
        super().__init__(id=id)
        self.sections = sections
        """(label, key) per section, top to bottom."""

    def on_mount(self) -> None:
        self.update(rail_text(self.sections, self.current))

    def watch_current(self, current: str) -> None:
        self.update(rail_text(self.sections, current))
