"""A chart drawn in braille dots with numpy, rendered once per draw into Textual strips.

plotext rebuilt every chart in pure Python at every redraw (≈ 14 ms for a 130×12 chart with four lines, most of
a live console's CPU in a real terminal); here a line is rasterised with a few numpy operations and a chart
row becomes a handful of segments.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

RGB = tuple[int, int, int]

BRAILLE_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint16)
"""The bit of each dot in a braille cell, by dot row (0–3) and dot column (0–1)."""
BRAILLE_BASE = 0x2800
VERTICAL = "│"
PLAIN = Style()
"""Cells without a colour of their own (the widget's colours apply; Textual's filters need a style)."""


@dataclass(frozen=True)
class Text:
    """A word written on the plot's top row, over everything else."""

    column: int
    text: str
    colour: RGB
    background: RGB


class BrailleCanvas:
    """A plot area of `columns` × `rows` cells over the data ranges [left, right] × [bottom, top].

    Layers, lowest first: vertical lines (markers, cursor) in empty cells, then data (braille dots, or a
    character per cell for point styles), then words on the top row. A cell shows the dots and colour of the
    last line that drew in it.
    """

    def __init__(self, columns: int, rows: int, x_range: tuple[float, float], y_range: tuple[float, float]):
        self.columns = max(1, columns)
        self.rows = max(1, rows)
        self.left, self.right = x_range
        self.bottom, self.top = y_range
        self.bits = np.zeros((self.rows, self.columns), dtype=np.uint16)
        self.owner = np.full((self.rows, self.columns), -1, dtype=np.int16)
        """Index into `colours` of the last line drawn in each cell (-1: none)."""
        self.chars = np.full((self.rows, self.columns), "", dtype="<U1")
        """Point-style characters (NO_COLOR), shown instead of braille."""
        self.verticals: dict[int, RGB] = {}
        self.words: list[Text] = []
        self.colours: list[RGB] = []

    def column_of(self, x: float) -> int:
        """The cell column of `x` (the same rounding for lines, markers and the cursor)."""
        return self._scale(np.array([x]), self.left, self.right, self.columns)[0]

    @staticmethod
    def _scale(values: np.ndarray, lo: float, hi: float, cells: int) -> np.ndarray:
        if hi <= lo:
            return np.zeros(len(values), dtype=np.int64)
        return np.rint((values - lo) / (hi - lo) * (cells - 1)).astype(np.int64)

    def line(self, x: np.ndarray, y: np.ndarray, colour: RGB, marker: str = "braille") -> None:
        """Draw the polyline through (x, y): braille dots, or `marker` characters cell by cell."""
        if not len(x):
            return
        self.colours.append(colour)
        index = len(self.colours) - 1
        keep = np.isfinite(y)
        x, y = np.asarray(x, dtype=float)[keep], np.asarray(y, dtype=float)[keep]
        if not len(x):
            return
        if marker == "braille":
            dx = self._scale(x, self.left, self.right, self.columns * 2)
            dy = self._scale(self.top - y, 0.0, self.top - self.bottom, self.rows * 4)
            px, py = _segments(dx, dy, self.columns * 2, self.rows * 4)
            cells = (py // 4) * self.columns + px // 2
            mine = np.zeros(self.bits.size, dtype=np.uint16)
            np.bitwise_or.at(mine, cells, BRAILLE_BITS[py % 4, px % 2])
            # a cell shows the dots of the last line drawn in it (the smoothed line over the faint raw one)
            self.bits.flat[cells] = mine[cells]
            self.owner.flat[cells] = index
            self.chars.flat[cells] = ""
        else:
            cx = self._scale(x, self.left, self.right, self.columns)
            cy = self._scale(self.top - y, 0.0, self.top - self.bottom, self.rows)
            px, py = _segments(cx, cy, self.columns, self.rows)
            self.chars[py, px] = marker
            self.owner[py, px] = index

    def vertical(self, x: float, colour: RGB) -> None:
        """A vertical line at `x` (markers, the cursor), under the data."""
        if self.left <= x <= self.right:
            self.verticals[self.column_of(x)] = colour

    def word(
        self, x: float, text: str, colour: RGB, background: RGB, align: Literal["left", "right"]
    ) -> None:
        """`text` on the top row, starting at `x` (left) or ending there (right)."""
        column = self.column_of(x)
        start = column if align == "left" else column - len(text) + 1
        self.words.append(Text(max(0, start), text, colour, background))

    def strips(self, style_of: StyleCache) -> list[Strip]:
        """One strip per row of the plot area."""
        grid = np.full((self.rows, self.columns), " ", dtype="<U1")
        owner = np.full((self.rows, self.columns), -1, dtype=np.int32)
        palette = list(self.colours)
        for column, colour in self.verticals.items():
            palette.append(colour)
            grid[:, column] = VERTICAL
            owner[:, column] = len(palette) - 1
        dotted = self.bits > 0
        grid[dotted] = _braille_chars(self.bits[dotted])
        written = self.chars != ""
        grid[written] = self.chars[written]
        drawn = dotted | written
        owner[drawn] = self.owner[drawn]
        rows = ["".join(row) for row in grid.tolist()]
        strips = [_strip(text, owner[r], palette, style_of) for r, text in enumerate(rows)]
        if self.words:
            strips[0] = _with_words(strips[0], self.words, self.columns, style_of)
        return strips


class StyleCache:
    """Rich styles by colour, made once for every draw of a chart."""

    def __init__(self) -> None:
        self._styles: dict[tuple[RGB | None, RGB | None], Style] = {}

    def style(self, colour: RGB | None, background: RGB | None = None) -> Style:
        key = (colour, background)
        style = self._styles.get(key)
        if style is None:
            style = Style(
                color=f"rgb({colour[0]},{colour[1]},{colour[2]})" if colour else None,
                bgcolor=f"rgb({background[0]},{background[1]},{background[2]})" if background else None,
            )
            self._styles[key] = style
        return style


def _segments(x: np.ndarray, y: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Every grid point on the straight segments between consecutive (x, y), clipped to the grid."""
    if len(x) == 1:
        px, py = x, y
    else:
        x0, y0 = x[:-1], y[:-1]
        dx, dy = np.diff(x), np.diff(y)
        n = np.maximum(np.maximum(np.abs(dx), np.abs(dy)), 1)
        segment = np.repeat(np.arange(len(n)), n)
        k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        frac = k / n[segment]
        px = np.concatenate((np.rint(x0[segment] + dx[segment] * frac), x[-1:])).astype(np.int64)
        py = np.concatenate((np.rint(y0[segment] + dy[segment] * frac), y[-1:])).astype(np.int64)
    inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)
    return px[inside], py[inside]


_BRAILLE = np.array([chr(BRAILLE_BASE + b) for b in range(256)])


def _braille_chars(bits: np.ndarray) -> np.ndarray:
    return _BRAILLE[bits]


def _strip(text: str, owner: np.ndarray, palette: Sequence[RGB], style_of: StyleCache) -> Strip:
    """A row as segments: one per run of cells of the same colour."""
    if not text.strip():
        return Strip([Segment(text, PLAIN)], len(text))
    changes = np.flatnonzero(np.diff(owner)) + 1
    bounds = [0, *changes.tolist(), len(text)]
    segments = []
    for start, end in itertools.pairwise(bounds):
        who = int(owner[start])
        style = style_of.style(palette[who]) if who >= 0 else PLAIN
        segments.append(Segment(text[start:end], style))
    return Strip(segments, len(text))


def _with_words(strip: Strip, words: list[Text], columns: int, style_of: StyleCache) -> Strip:
    """The top row with each word written over it (clipped to the plot area)."""
    for word in words:
        text = word.text[: max(0, columns - word.column)]
        if not text:
            continue
        before = strip.crop(0, word.column)
        after = strip.crop(word.column + len(text), columns)
        middle = Strip([Segment(text, style_of.style(word.colour, word.background))], len(text))
        strip = Strip.join([before, middle, after])
    return strip
