"""A sweep's metric against a numeric swept key (an LR sweep) as a PNG, drawn with Pillow: the console never
imports matplotlib. One line per combination of the other swept keys; a log x axis when the values span ten
times or more."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from engine.core.config.overrides import parse_value
from engine.core.export import fmt_number
from engine.core.sweep.axes import point_text
from engine.core.sweep.table import Column, SweepTable, column_label

WIDTH, HEIGHT = 900, 560
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 80, 30, 50, 70
LEGEND_ROW = 18
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
LOG_SPAN = 10.0
"""Values spanning this factor or more are drawn on a log axis (1e-4 … 1e-2 evenly apart)."""


def numeric_keys(table: SweepTable) -> list[str]:
    """The swept keys whose every value is a number (learning rates, sizes, weights)."""
    keys = []
    for key in table.key_columns:
        values = [_number(row.varied.get(key)) for row in table.rows]
        if values and all(v is not None for v in values):
            keys.append(key)
    return keys


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    value = parse_value(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]


def series_of(table: SweepTable, key: str, column: Column) -> list[Series]:
    """Points (key value, metric) grouped by the other swept keys' values, each group sorted by x."""
    groups: dict[str, list[tuple[float, float]]] = {}
    for row in table.rows:
        x, y = _number(row.varied.get(key)), row.values.get(column)
        if x is None or y is None:
            continue
        others = {k: row.varied.get(k, "") for k in table.key_columns if k != key}
        label = point_text(others, table.key_columns)
        groups.setdefault(label, []).append((x, y))
    return [Series(label or column_label(column), sorted(points)) for label, points in groups.items()]


def uses_log_x(xs: Sequence[float]) -> bool:
    return bool(xs) and min(xs) > 0 and max(xs) / min(xs) >= LOG_SPAN


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font, one size
        return ImageFont.load_default()


def draw_metric_vs_key(table: SweepTable, key: str, column: Column, path: Path) -> Path:
    """Draw `column` (split, metric) against swept `key` and save it as PNG at `path`."""
    series = series_of(table, key, column)
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    log_x = uses_log_x(xs)
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font, small = _font(15), _font(12)
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    draw.text((left, 15), f"{table.name}: {column_label(column)} vs {key}", fill="black", font=font)
    draw.rectangle((left, top, right, bottom), outline="#444444")
    if not xs:
        draw.text((left + 20, top + 20), "no point has reached a value yet", fill="#666666", font=font)
        image.save(path)
        return path

    def fx(value: float) -> float:
        lo, hi = (math.log10(min(xs)), math.log10(max(xs))) if log_x else (min(xs), max(xs))
        v = math.log10(value) if log_x else value
        span = hi - lo or 1.0
        pad = 0.05 * (right - left)
        return left + pad + (v - lo) / span * (right - left - 2 * pad)

    y_lo, y_hi = min(ys), max(ys)
    y_pad = (y_hi - y_lo) * 0.1 or max(abs(y_hi) * 0.05, 1.0)
    y_lo, y_hi = y_lo - y_pad, y_hi + y_pad

    def fy(value: float) -> float:
        return bottom - (value - y_lo) / (y_hi - y_lo) * (bottom - top)

    for tick in _ticks(y_lo, y_hi):
        y = fy(tick)
        draw.line((left, y, right, y), fill="#e6e6e6")
        label = fmt_number(tick, decimals=_decimals(y_hi - y_lo))
        draw.text((left - 8, y), label, fill="#333333", font=small, anchor="rm")
    for value in sorted(set(xs)):
        x = fx(value)
        draw.line((x, bottom, x, bottom + 5), fill="#444444")
        draw.text((x, bottom + 8), f"{value:g}", fill="#333333", font=small, anchor="ma")
    axis = f"{key}{' (log scale)' if log_x else ''}"
    draw.text(((left + right) / 2, HEIGHT - 30), axis, fill="black", font=font, anchor="ma")
    for number, one in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        points = [(fx(x), fy(y)) for x, y in one.points]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=colour)
        legend_y = top + 8 + number * LEGEND_ROW
        draw.line((right - 230, legend_y + 7, right - 210, legend_y + 7), fill=colour, width=3)
        draw.text((right - 204, legend_y), one.label[:34], fill="black", font=small)
    image.save(path)
    return path


def _decimals(span: float) -> int:
    return 0 if span >= 20 else 1 if span >= 2 else 2 if span >= 0.2 else 4


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round values between lo and hi."""
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]
