"""Update a Static only when its content changed, and lay the screen out again only when its size may have.

`Static.update` re-arranges the whole screen by default; a live monitor updates a dozen one-line Statics twice a
second, and in a real terminal those layouts were a third of the console's CPU.
"""

from __future__ import annotations

from collections.abc import Hashable

from rich.cells import cell_len
from rich.console import RenderableType
from rich.text import Text
from textual.widgets import Static

_LAST = "_quiet_last_content"
_EXTENT = "_quiet_last_extent"


def update_quietly(widget: Static, content: RenderableType, extent: Hashable | None = None) -> bool:
    """Show `content` unless it is what `widget` shows already; True when it was updated.

    `extent` is what decides the widget's size (default for text: its lines and widest line; other renderables
    must give one); the screen is laid out again only when it differs from the last update's.
    """
    if getattr(widget, _LAST, None) == content:
        return False
    if extent is None:
        if not isinstance(content, (Text, str)):
            raise TypeError("update_quietly needs an extent for a renderable that is not text")
        plain = content.plain if isinstance(content, Text) else content
        lines = plain.split("\n")
        extent = (len(lines), max(cell_len(line) for line in lines))
    layout = getattr(widget, _EXTENT, None) != extent
    setattr(widget, _LAST, content.copy() if isinstance(content, Text) else content)
    setattr(widget, _EXTENT, extent)
    widget.update(content, layout=layout)
    return True
