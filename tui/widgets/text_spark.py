"""One-line sparklines as text (▁▂▃▄▅▆▇█): history that fits in a table cell and costs one string to draw."""

from __future__ import annotations

import numpy as np

BLOCKS = "▁▂▃▄▅▆▇█"


def text_spark(values: np.ndarray, width: int, low: float = 0.0, high: float | None = None) -> str:
    """The last `width` finite values as block characters scaled from `low` to `high` (their maximum by default).

    A fixed scale (0–100 for percentages, the total for memory) keeps a flat line flat instead of magnifying noise.
    """
    if width <= 0:
        return ""
    y = np.asarray(values[-4 * width :], dtype=float)  # a long run's history: only its end is drawn
    y = y[np.isfinite(y)][-width:]
    if not len(y):
        return ""
    top = float(y.max()) if high is None else high
    span = top - low
    if span <= 0:
        return BLOCKS[0] * len(y)
    levels = np.clip((y - low) / span * (len(BLOCKS) - 1) + 0.5, 0, len(BLOCKS) - 1).astype(int)
    return "".join(BLOCKS[i] for i in levels)


def bar(fraction: float, width: int) -> tuple[str, str]:
    """A horizontal gauge as (filled, empty) parts, so that each can take its own style."""
    filled = round(min(max(fraction, 0.0), 1.0) * width)
    return "█" * filled, "░" * (width - filled)
