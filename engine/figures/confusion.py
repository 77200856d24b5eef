"""Confusion matrices: a heat map normalised per true class, and the most confused (true → predicted) pairs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from engine.figures.canvas import (
    BACKGROUND,
    INK,
    MAX_WIDTH,
    MUTED,
    WRONG,
    fit_text,
    font,
    text_width,
    thumb_size,
    titled,
)
from engine.figures.figure import Figure

LABELLED_UP_TO = 40  # classes; beyond, names would be unreadable: the axes are left unnamed
GRID = 480  # pixels of the matrix itself, at most
MAX_CELL = 44
EMPTY_ROW = (235, 235, 235)  # a class with no samples: no rate to show
GAP = 8


def row_rates(counts: np.ndarray) -> np.ndarray:
    """C×C counts (rows = true class) -> the share of each true class given each prediction (0 for an empty row)."""
    counts = np.asarray(counts, np.float64)
    totals = counts.sum(1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _heat(rates: np.ndarray) -> np.ndarray:
    """Rates in [0, 1] -> RGB from white to dark blue (sequential, readable in print and in a terminal)."""
    low, high = np.array([255.0, 255.0, 255.0]), np.array([8.0, 48.0, 107.0])
    shade = np.sqrt(rates)[..., None]  # small confusions stay visible next to a strong diagonal
    return (low + (high - low) * shade).round().astype(np.uint8)


def render_confusion(split: str, counts: np.ndarray, class_names: Sequence[str], unit: str) -> Figure:
    """The heat map of one split: rows = true class, columns = predicted, each row normalised; `unit` says what
    was counted (pixels, images)."""
    counts = np.asarray(counts)
    classes = len(class_names)
    rates = row_rates(counts)
    pixels = _heat(rates)
    pixels[counts.sum(1) == 0] = EMPTY_ROW
    cell = min(MAX_CELL, max(1, GRID // max(classes, 1)))
    grid = Image.fromarray(pixels).resize((classes * cell, classes * cell), Image.Resampling.NEAREST)
    if grid.width > GRID:
        grid = grid.resize((GRID, GRID), Image.Resampling.BOX)
    named = classes <= LABELLED_UP_TO
    margin = max((text_width(n, 11) for n in class_names), default=0) + 12 if named else 24
    margin = min(margin, 140)
    figure = Image.new("RGB", (margin + grid.width + GAP, margin + grid.height + GAP), BACKGROUND)
    figure.paste(grid, (margin, margin))
    draw = ImageDraw.Draw(figure)
    if cell >= 6:  # outline the diagonal: where the eye looks first
        for index in range(classes):
            corner = margin + index * cell
            draw.rectangle((corner, corner, corner + cell - 1, corner + cell - 1), outline=MUTED)
    if named:
        step = grid.width / classes
        for index, name in enumerate(class_names):
            label = fit_text(name, margin - 12, 11)
            centre = margin + round((index + 0.5) * step)
            draw.text((margin - 6 - text_width(label, 11), centre - 7), label, fill=INK, font=font(11))
            figure.paste(_vertical(label), (centre - 7, margin - 6 - text_width(label, 11)))
        if cell >= 30:
            _write_rates(draw, rates, counts, margin, cell)
    else:
        draw.text((4, margin - 16), "rows: true, columns: predicted", fill=MUTED, font=font(11))
    title = f"{split}: confusion, rows = true class, % of each row's {unit}"
    correct = np.trace(counts) / max(counts.sum(), 1)
    caption = f"{classes} classes, {int(counts.sum()):,} {unit}, {100 * correct:.1f}% on the diagonal"
    return Figure(split, "confusion", titled(_limit(figure), title), caption)


def _vertical(text: str) -> Image.Image:
    """`text` drawn bottom-to-top (column labels)."""
    strip = Image.new("RGB", (text_width(text, 11) + 2, 14), BACKGROUND)
    ImageDraw.Draw(strip).text((0, 0), text, fill=INK, font=font(11))
    return strip.rotate(90, expand=True)


def _write_rates(
    draw: ImageDraw.ImageDraw, rates: np.ndarray, counts: np.ndarray, margin: int, cell: int
) -> None:
    """Percentages inside the cells that are large enough to hold them."""
    for true, row in enumerate(rates):
        if counts[true].sum() == 0:
            continue
        for predicted, rate in enumerate(row):
            if rate < 0.005:
                continue
            text = f"{100 * rate:.0f}"
            left = margin + predicted * cell + (cell - text_width(text, 10)) // 2
            colour = (255, 255, 255) if rate > 0.35 else INK
            draw.text((left, margin + true * cell + cell // 2 - 6), text, fill=colour, font=font(10))


def _limit(image: Image.Image) -> Image.Image:
    if image.width <= MAX_WIDTH:
        return image
    return image.resize((MAX_WIDTH, round(image.height * MAX_WIDTH / image.width)), Image.Resampling.LANCZOS)


@dataclass
class ConfusedPair:
    """Images of class `true` predicted as `predicted`: how many, and their share of the class."""

    true: int
    predicted: int
    count: int
    rate: float


def confused_pairs(counts: np.ndarray, limit: int) -> list[ConfusedPair]:
    """The `limit` off-diagonal cells with the highest share of their true class (ties: more images first)."""
    counts = np.asarray(counts)
    rates = row_rates(counts)
    true, predicted = np.nonzero(counts * (1 - np.eye(len(counts), dtype=counts.dtype)))
    order = sorted(zip(true, predicted), key=lambda tp: (-rates[tp], -counts[tp], tp))[:limit]
    return [ConfusedPair(int(t), int(p), int(counts[t, p]), float(rates[t, p])) for t, p in order]


def pairs_text(pairs: Sequence[ConfusedPair], class_names: Sequence[str], shown: int = 4) -> str:
    """ "cat→dog 31%, car→truck 12%" for the first `shown` pairs."""
    return ", ".join(
        f"{class_names[p.true]}→{class_names[p.predicted]} {100 * p.rate:.0f}%" for p in pairs[:shown]
    )


def render_confused_pairs(
    split: str,
    pairs: Sequence[ConfusedPair],
    class_names: Sequence[str],
    examples: Mapping[tuple[int, int], int],
    read_image: Callable[[int, tuple[int, int]], np.ndarray],
    image_size: tuple[int, int],
) -> Figure:
    """One row per pair: an example image of the true class taken for the predicted one, the pair, a bar of its
    share of the true class."""
    size = thumb_size(image_size, 6, 56, GAP)
    # "->": the bundled font has no arrow
    names = [f"{class_names[p.true]} -> {class_names[p.predicted]}" for p in pairs]
    row_h, bar_w = max(size[0], 20) + GAP, 360
    name_w = min(320, max((text_width(name, 13) for name in names), default=0) + 24)
    width = GAP + size[1] + GAP + name_w + bar_w + 90
    body = Image.new("RGB", (width, GAP + max(len(pairs), 1) * row_h), BACKGROUND)
    draw = ImageDraw.Draw(body)
    if not pairs:
        draw.text((GAP, GAP), "no confusions: every image was classified right", fill=MUTED, font=font(12))
    for row, pair in enumerate(pairs):
        top = GAP + row * row_h
        example = examples.get((pair.true, pair.predicted))
        if example is not None:
            body.paste(Image.fromarray(read_image(example, size)).convert("RGB"), (GAP, top))
        left = GAP + size[1] + GAP
        middle = top + size[0] // 2 - 7
        draw.text((left, middle), fit_text(names[row], name_w - 8, 13), fill=INK, font=font(13))
        bar = round(bar_w * pair.rate)
        draw.rectangle((left + name_w, middle + 2, left + name_w + max(bar, 1), middle + 14), fill=WRONG)
        draw.text(
            (left + name_w + bar + 6, middle + 1),
            f"{100 * pair.rate:.0f}% ({pair.count})",
            fill=INK,
            font=font(11),
        )
    title = f"{split}: most confused, true -> predicted, % of the true class"
    caption = pairs_text(pairs, class_names) or "no confusions"
    return Figure(split, "confused_pairs", titled(_limit(body), title), caption)
