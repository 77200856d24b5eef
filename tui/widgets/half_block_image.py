"""A PNG drawn in the terminal with upper half blocks: "▀" in the upper pixel's colour on the lower pixel's.

One cell shows two pixels stacked (a cell is about twice as tall as wide, so the pixels come out square).
The image is resized with Pillow to fit the widget keeping its aspect ratio, or zoomed into and panned;
what was drawn for a (file, size, view) is cached, so redraws and stepping back to a figure are cheap.
Without colour (NO_COLOR) each cell becomes a character as dense as the cell is dark: a sketch that still
shows the layout, the tiles and the frames.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

UPPER_HALF = "▀"
INK_RAMP = "@%#*+=-:. "
"""Characters from dark to light pixels, for terminals without colour: figures are drawn on white, so dark
pixels are ink (dense characters) and the white page stays blank, whatever the terminal's background."""
ZOOMS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
"""Zoom levels, as multiples of the scale that fits the whole image."""
PAN_FRACTION = 0.25
"""One pan step moves the view by this share of what it shows."""

Cells = tuple[int, int]
"""(columns, rows) of the drawing area."""


@dataclass(frozen=True)
class View:
    """What part of the image is shown: the zoom over fit and the image point at the middle (as fractions)."""

    zoom: float = 1.0
    center: tuple[float, float] = (0.5, 0.5)

    @property
    def fitted(self) -> bool:
        return self.zoom == 1.0


def fit_scale(image_size: tuple[int, int], cells: Cells) -> float:
    """Output pixels per image pixel that fit the whole image in `cells` (one cell = 1×2 pixels)."""
    (w, h), (cols, rows) = image_size, cells
    return min(cols / w, 2 * rows / h)


def visible_box(
    image_size: tuple[int, int], cells: Cells, view: View
) -> tuple[tuple[float, float, float, float], tuple[int, int]]:
    """The part of the image shown (left, top, right, bottom in image pixels) and the pixels it becomes."""
    (w, h), (cols, rows) = image_size, cells
    scale = fit_scale(image_size, cells) * view.zoom
    span_x, span_y = min(w, cols / scale), min(h, 2 * rows / scale)
    left = _clamp(view.center[0] * w - span_x / 2, 0.0, w - span_x)
    top = _clamp(view.center[1] * h - span_y / 2, 0.0, h - span_y)
    height = max(1, min(2 * rows, round(span_y * scale)))
    if height > 1:
        height -= height % 2  # whole cells: a last half-filled row would show the terminal under it
    out = (max(1, min(cols, round(span_x * scale))), height)
    return (left, top, left + span_x, top + span_y), out


def panned(view: View, image_size: tuple[int, int], cells: Cells, dx: float, dy: float) -> View:
    """`view` moved by (dx, dy) pan steps, kept inside the image."""
    (w, h), (cols, rows) = image_size, cells
    scale = fit_scale(image_size, cells) * view.zoom
    span_x, span_y = min(1.0, cols / scale / w), min(1.0, 2 * rows / scale / h)
    x = _clamp(view.center[0] + dx * PAN_FRACTION * span_x, span_x / 2, 1 - span_x / 2)
    y = _clamp(view.center[1] + dy * PAN_FRACTION * span_y, span_y / 2, 1 - span_y / 2)
    return replace(view, center=(x, y))


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


@lru_cache(maxsize=8)
def load_rgb(path: Path, stamp: tuple[int, int]) -> Image.Image:
    """The image at `path` as RGB (`stamp`, its mtime and size, makes a rewritten file read again)."""
    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "P"):  # transparency drawn over white, as a viewer would
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")


def file_stamp(path: Path) -> tuple[int, int]:
    """(mtime_ns, size) of `path`; OSError when it is missing."""
    st = path.stat()
    return (st.st_mtime_ns, st.st_size)


def resized_pixels(image: Image.Image, cells: Cells, view: View) -> np.ndarray:
    """The shown part of `image` as an (height, width, 3) uint8 array sized for `cells`."""
    box, out = visible_box(image.size, cells, view)
    shrinking = out[0] < (box[2] - box[0])
    resample = Image.Resampling.LANCZOS if shrinking else Image.Resampling.NEAREST  # zoomed in: crisp pixels
    return np.asarray(image.resize(out, resample, box=box))


def half_block_lines(pixels: np.ndarray) -> list[Strip]:
    """Pixels as lines of "▀": foreground = the upper pixel, background = the lower one (none past an odd end).

    Runs of equal cells share one segment; the runs are found with numpy on packed colours, so a 200×100
    drawing costs milliseconds, not a Python loop per cell.
    """
    height, width = pixels.shape[:2]
    packed = (pixels[..., 0].astype(np.int64) << 16) | (pixels[..., 1].astype(np.int64) << 8) | pixels[..., 2]
    lines = []
    for top in range(0, height, 2):
        upper = packed[top]
        lower = packed[top + 1] if top + 1 < height else np.full(width, -1, dtype=np.int64)
        cells = (upper << 25) | (lower & 0x1FFFFFF)  # a lower of -1 (none) stays apart from every colour
        starts = np.flatnonzero(np.diff(cells)) + 1
        bounds = [0, *starts.tolist(), width]
        segments = [
            Segment(UPPER_HALF * (end - start), _cell_style(int(upper[start]), int(lower[start])))
            for start, end in pairwise(bounds)
        ]
        lines.append(Strip(segments, width))
    return lines


@lru_cache(maxsize=8192)
def _cell_style(upper: int, lower: int) -> Style:
    """The style of a cell from packed 0xRRGGBB colours (lower -1: no background)."""
    return Style(color=_colour(upper), bgcolor=_colour(lower) if lower >= 0 else None)


@lru_cache(maxsize=8192)
def _colour(packed: int) -> Color:
    return Color.from_rgb(packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF)


def ink_lines(pixels: np.ndarray) -> list[Strip]:
    """Pixels as characters as dense as they are dark (two stacked pixels per character), for NO_COLOR."""
    luma = pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if luma.shape[0] % 2:
        luma = np.vstack([luma, luma[-1:]])
    cells = (luma[0::2] + luma[1::2]) / 2
    index = np.minimum((cells / 256 * len(INK_RAMP)).astype(int), len(INK_RAMP) - 1)
    ramp = np.array(list(INK_RAMP))
    return [Strip([Segment("".join(row))], len(row)) for row in ramp[index]]


@lru_cache(maxsize=32)
def render_figure(path: Path, stamp: tuple[int, int], cells: Cells, view: View, colour: bool) -> list[Strip]:
    """The drawing of one file for one size and view, as lines (cached: a redraw costs a look-up)."""
    pixels = resized_pixels(load_rgb(path, stamp), cells, view)
    return half_block_lines(pixels) if colour else ink_lines(pixels)


class HalfBlockImage(Widget):
    """Shows one PNG, fitted to the widget or zoomed and panned; a message instead when there is none."""

    DEFAULT_CSS = """
    HalfBlockImage { width: 1fr; height: 1fr; content-align: center middle; }
    HalfBlockImage.-message { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.path: Path | None = None
        """The PNG shown, or None to show `message`."""
        self.view = View()
        """Zoom and pan."""
        self.message = ""
        """Shown when there is no image."""
        self.problem = ""
        """Why the image cannot be drawn (a missing or unreadable file), shown instead of it."""
        self._lines: list[Strip] | None = None

    def show(self, path: Path | None, message: str = "", keep_view: bool = True) -> None:
        """Draw `path` (None: `message`), keeping the zoom and pan unless `keep_view` is False."""
        view = self.view if keep_view else View()
        if (path, message, view) == (self.path, self.message, self.view):
            return
        self.path, self.message, self.view = path, message, view
        self.set_class(path is None, "-message")
        self.refresh()

    # -- zoom and pan --------------------------------------------------------------------------------

    def image_size(self) -> tuple[int, int] | None:
        """Pixels of the shown image, None when there is none or it cannot be read."""
        if self.path is None:
            return None
        try:
            return load_rgb(self.path, file_stamp(self.path)).size
        except (OSError, ValueError, Image.DecompressionBombError):
            return None

    def zoom(self, steps: int) -> None:
        """Zoom in (`steps` > 0) or out by that many levels, around the middle of the view."""
        level = min(range(len(ZOOMS)), key=lambda i: abs(ZOOMS[i] - self.view.zoom))
        zoom = ZOOMS[max(0, min(len(ZOOMS) - 1, level + steps))]
        self._set_view(View(zoom, self.view.center if zoom > 1 else (0.5, 0.5)))

    def fit(self) -> None:
        """Back to the whole image."""
        self._set_view(View())

    def fit_width(self) -> None:
        """Fill the width, from the top (a tall figure: its rows then scroll with the arrows)."""
        size = self.image_size()
        if size is None:
            return
        cols, _ = cells = self._cells()
        zoom = cols / size[0] / fit_scale(size, cells)
        self._set_view(View(zoom, (0.5, 0.0)) if zoom > 1.001 else View())

    def pan(self, dx: float, dy: float) -> None:
        """Move the view by pan steps (a quarter of what is shown); nothing when the whole image fits."""
        size = self.image_size()
        if size is not None and not self.view.fitted:
            self._set_view(panned(self.view, size, self._cells(), dx, dy))

    def _set_view(self, view: View) -> None:
        if view != self.view:
            self.view = view
            self.refresh()

    def _cells(self) -> Cells:
        return (max(1, self.content_size.width), max(1, self.content_size.height))

    # -- drawing -------------------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        self._lines = self._drawing()  # once per redraw, not once per line
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """A line of the drawing, centred; the message (or what went wrong) when there is none."""
        lines = self._lines
        if lines is None:
            return super().render_line(y)
        width, height = self.content_size
        blank = self.visual_style.rich_style
        index = y - (height - len(lines)) // 2
        if not 0 <= index < len(lines):
            return Strip.blank(width, blank)
        # the widget's colours under the drawing's: Textual's NO_COLOR filter needs a style on every segment
        line = lines[index].apply_style(blank)
        left = (width - line.cell_length) // 2
        right = width - left - line.cell_length
        return Strip([Segment(" " * left, blank), *line, Segment(" " * right, blank)], width)

    def _drawing(self) -> list[Strip] | None:
        """The lines of the shown image; None (and `problem` set) when there is no image to draw."""
        self.problem = ""
        if self.path is None:
            return None
        try:
            return render_figure(
                self.path, file_stamp(self.path), self._cells(), self.view, not self.app.no_color
            )
        except FileNotFoundError:
            self.problem = f"figure file missing: {self.path.name}"
        except Image.UnidentifiedImageError:
            self.problem = f"cannot read {self.path.name}: not an image file"
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            self.problem = f"cannot read {self.path.name}: {exc}"
        return None

    def render(self) -> Text:
        """The message or the problem, drawn by Textual when there is no image (see render_line)."""
        return Text(self.problem or self.message, style="bold" if self.problem else "", justify="center")
