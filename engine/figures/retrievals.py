"""VPR retrievals: per sample query a row of the query then its top-k database images, framed green when
within the positive radius (correct) and red when not."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from engine.figures.canvas import (
    BACKGROUND,
    CORRECT,
    INK,
    NEUTRAL,
    WRONG,
    fit_text,
    font,
    framed,
    thumb_size,
    titled,
)
from engine.figures.figure import Figure

GAP = 8
BORDER = 4
LABEL = 16  # pixels of text under each thumbnail

ReadImage = Callable[[int, tuple[int, int]], np.ndarray]
"""(item index, (height, width)) -> (H, W, 3) uint8, as ImageSource.read."""


@dataclass
class Retrieval:
    """One sample query's result: its index, its top-k database indices, which are correct, how far they are."""

    query: int
    database: np.ndarray
    correct: np.ndarray
    distance_m: np.ndarray
    has_positive: bool = True
    """False for a query with no database image inside the radius: it can never be correct."""


def retrievals_of(
    sample_queries: np.ndarray,
    predictions: np.ndarray,
    positives: Sequence[np.ndarray],
    database_utm: np.ndarray,
    query_utm: np.ndarray,
    top_k: int,
) -> list[Retrieval]:
    """The first `top_k` predictions of each sample query, marked correct when they are among its positives
    (the very test Recall@N applies), with their distance to the query."""
    out = []
    for query in sample_queries:
        top = np.asarray(predictions[query][:top_k], np.int64)
        offsets = np.asarray(database_utm, np.float64)[top] - np.asarray(query_utm, np.float64)[query]
        correct, distance = np.isin(top, positives[query]), np.hypot(offsets[:, 0], offsets[:, 1])
        out.append(Retrieval(int(query), top, correct, distance, len(positives[query]) > 0))
    return out


def render_retrievals(
    split: str,
    retrievals: Sequence[Retrieval],
    read_query: ReadImage,
    read_database: ReadImage,
    image_size: tuple[int, int],
    radius_m: float,
) -> Figure:
    """The retrievals figure of one test split; images are read at thumbnail size, one by one."""
    top_k = max((len(r.database) for r in retrievals), default=0)
    size = thumb_size(image_size, top_k + 1, 96, GAP + 2 * BORDER)
    cell_w, cell_h = size[1] + 2 * BORDER, size[0] + 2 * BORDER + LABEL
    body = Image.new(
        "RGB", (GAP + (top_k + 1) * (cell_w + GAP), GAP + len(retrievals) * (cell_h + GAP)), BACKGROUND
    )
    draw = ImageDraw.Draw(body)
    for row, result in enumerate(retrievals):
        top = GAP + row * (cell_h + GAP)
        name = f"query {result.query}" if result.has_positive else f"query {result.query} · no positive"
        cells = [(read_query(result.query, size), NEUTRAL, name)]
        cells += [
            (read_database(int(index), size), CORRECT if ok else WRONG, f"#{rank} · {distance:.0f} m")
            for rank, (index, ok, distance) in enumerate(
                zip(result.database, result.correct, result.distance_m), start=1
            )
        ]
        for column, (pixels, colour, label) in enumerate(cells):
            left = GAP + column * (cell_w + GAP)
            body.paste(
                framed(Image.fromarray(pixels).convert("RGB").resize((size[1], size[0])), colour, BORDER),
                (left, top),
            )
            draw.text(
                (left + 2, top + cell_h - LABEL + 2),
                fit_text(label, cell_w - 4, 11),
                fill=colour if column else INK,
                font=font(11),
            )
    title = f"{split}: query, then its top-{top_k}; green within {radius_m:g} m (correct), red farther"
    hits = sum(bool(r.correct[:1].any()) for r in retrievals)
    caption = (
        f"{len(retrievals)} queries × top-{top_k}; green = within {radius_m:g} m; "
        f"top-1 correct for {hits}/{len(retrievals)}"
    )
    return Figure(split, "retrievals", titled(body, title), caption)
