"""Half-block drawing of PNGs: exact colours per cell, fitting, zoom and pan, the NO_COLOR sketch, caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.color import Color
from rich.style import Style
from textual.strip import Strip

from tui.widgets.half_block_image import (
    INK_RAMP,
    UPPER_HALF,
    View,
    file_stamp,
    fit_scale,
    half_block_lines,
    ink_lines,
    panned,
    render_figure,
    visible_box,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def png(tmp_path: Path, pixels: list[list[tuple[int, int, int]]], name: str = "f.png") -> Path:
    path = tmp_path / name
    Image.fromarray(np.array(pixels, dtype=np.uint8), "RGB").save(path)
    return path


def cell_styles(lines: list[Strip]) -> list[list[Style | None]]:
    """The style of every cell, line by line."""
    return [[segment.style for segment in line for _ in segment.text] for line in lines]


def plain(lines: list[Strip]) -> str:
    return "\n".join(line.text for line in lines)


def test_a_2x2_png_draws_two_cells_upper_pixel_on_lower(tmp_path: Path) -> None:
    path = png(tmp_path, [[RED, GREEN], [BLUE, WHITE]])
    text = render_figure(path, file_stamp(path), (2, 1), View(), True)
    assert plain(text) == UPPER_HALF * 2
    (row,) = cell_styles(text)
    assert row[0] == Style(color=Color.from_rgb(*RED), bgcolor=Color.from_rgb(*BLUE))
    assert row[1] == Style(color=Color.from_rgb(*GREEN), bgcolor=Color.from_rgb(*WHITE))


def test_an_odd_last_row_has_no_background() -> None:
    text = half_block_lines(np.array([[RED], [GREEN], [BLUE]], dtype=np.uint8))
    assert plain(text) == f"{UPPER_HALF}\n{UPPER_HALF}"
    styles = cell_styles(text)
    assert styles[0][0] == Style(color=Color.from_rgb(*RED), bgcolor=Color.from_rgb(*GREEN))
    assert styles[1][0] == Style(color=Color.from_rgb(*BLUE))


def test_equal_neighbours_share_one_segment() -> None:
    (line,) = half_block_lines(np.array([[RED] * 5 + [BLUE] * 3, [RED] * 4 + [BLUE] * 4], dtype=np.uint8))
    assert [len(segment.text) for segment in line] == [4, 1, 3]


@pytest.mark.parametrize(
    ("image", "cells", "expected"),
    [
        ((960, 400), (80, 19), (80, 32)),  # a wide strip: the width limits (33 rounded to whole cells)
        ((400, 400), (80, 19), (38, 38)),  # square: the height limits (19 rows = 38 pixels)
        ((100, 50), (200, 45), (180, 90)),  # small: scaled up to fit
    ],
)
def test_the_whole_image_fits_keeping_its_aspect(image, cells, expected) -> None:
    box, out = visible_box(image, cells, View())
    assert box == (0.0, 0.0, float(image[0]), float(image[1]))
    assert out == expected
    assert fit_scale(image, cells) == pytest.approx(min(cells[0] / image[0], 2 * cells[1] / image[1]))


def test_zoom_shows_the_middle_and_pan_stays_inside() -> None:
    size, cells = (800, 400), (80, 20)  # fits exactly at 0.1
    zoomed = View(zoom=2.0)
    box, out = visible_box(size, cells, zoomed)
    assert box == (200.0, 100.0, 600.0, 300.0)
    assert out == (80, 40)
    right = zoomed
    for _ in range(10):
        right = panned(right, size, cells, 1, 0)
    assert visible_box(size, cells, right)[0] == (400.0, 100.0, 800.0, 300.0)  # stopped at the edge
    up = panned(zoomed, size, cells, 0, -1)
    assert visible_box(size, cells, up)[0] == (200.0, 50.0, 600.0, 250.0)  # a quarter of the view


def test_zoomed_drawing_keeps_pixels_crisp(tmp_path: Path) -> None:
    path = png(tmp_path, [[RED, GREEN], [BLUE, WHITE]])
    text = render_figure(path, file_stamp(path), (4, 2), View(zoom=1.0), True)
    styles = cell_styles(text)
    # 2×2 pixels fitted into 4×4: each becomes a 2×2 block (nearest neighbour, no blur)
    assert styles[0][0] == styles[0][1] == Style(color=Color.from_rgb(*RED), bgcolor=Color.from_rgb(*RED))
    assert styles[1][3] == Style(color=Color.from_rgb(*WHITE), bgcolor=Color.from_rgb(*WHITE))


def test_no_colour_draws_dark_as_ink_and_white_as_blank() -> None:
    pixels = np.array([[(0, 0, 0), WHITE, (128, 128, 128)]] * 2, dtype=np.uint8)
    (line,) = ink_lines(pixels)
    assert line.text == INK_RAMP[0] + INK_RAMP[-1] + INK_RAMP[5]
    assert all(segment.style is None for segment in line)


def test_drawings_are_cached_and_a_rewritten_file_draws_again(tmp_path: Path) -> None:
    path = png(tmp_path, [[RED, RED], [RED, RED]])
    first = render_figure(path, file_stamp(path), (2, 1), View(), True)
    assert render_figure(path, file_stamp(path), (2, 1), View(), True) is first
    Image.fromarray(np.array([[BLUE] * 2] * 2, dtype=np.uint8), "RGB").save(path)
    stamp = file_stamp(path)
    redrawn = render_figure(path, (stamp[0] + 1, stamp[1]), (2, 1), View(), True)
    assert cell_styles(redrawn)[0][0].color == Color.from_rgb(*BLUE)


def test_transparency_is_drawn_over_white(tmp_path: Path) -> None:
    path = tmp_path / "rgba.png"
    Image.new("RGBA", (1, 2), (0, 0, 0, 0)).save(path)
    text = render_figure(path, file_stamp(path), (1, 1), View(), True)
    assert cell_styles(text)[0][0] == Style(color=Color.from_rgb(*WHITE), bgcolor=Color.from_rgb(*WHITE))
