"""The chart keys the monitor and compare share: the same key does the same thing on both screens."""

from __future__ import annotations

from textual.binding import Binding, BindingType

CHART_VIEW_BINDINGS: list[BindingType] = [
    Binding("y", "log_y", "Log y", tooltip="Log scale on the charts' y axes"),
    Binding("a", "x_axis", "x axis", tooltip="x by step → epoch → time"),
    Binding("left_square_bracket", "cursor(-1)", "Cursor", key_display="[/]", tooltip="Read exact values"),
    Binding("right_square_bracket", "cursor(1)", "Cursor right", show=False),
    Binding("left_curly_bracket", "cursor(-10)", "Cursor far left", show=False),
    Binding("right_curly_bracket", "cursor(10)", "Cursor far right", show=False),
]
"""Log scale, x axis, and the cursor (one column with [ ], ten with { })."""
