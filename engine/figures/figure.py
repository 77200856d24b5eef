"""A rendered figure waiting to be written, the eval.figure* settings, and the deterministic choice of samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image


@dataclass
class Figure:
    """One PNG of an evaluation: which test split it shows, its kind (`tag`) and one human line about it."""

    split: str
    tag: str
    """retrievals | overlay | confusion | confused_pairs (the `image` event contract)."""
    image: Image.Image
    caption: str


@dataclass(frozen=True)
class FigureSettings:
    """eval.figures, eval.figure_samples and eval.figure_top_k of a resolved config."""

    enabled: bool = True
    samples: int = 4
    top_k: int = 5

    @classmethod
    def of(cls, cfg: dict[str, Any]) -> FigureSettings:
        """The settings of a resolved config (defaults for a config written before the keys existed)."""
        section = cfg.get("eval", {})
        return cls(
            bool(section.get("figures", cls.enabled)),
            int(section.get("figure_samples", cls.samples)),
            int(section.get("figure_top_k", cls.top_k)),
        )


def sample_indices(count: int, samples: int) -> np.ndarray:
    """`samples` item indices spread evenly over `count` items: the same ones at every evaluation, so a
    researcher stepping through evaluations watches the same queries/images change."""
    if count <= 0 or samples <= 0:
        return np.zeros(0, np.int64)
    return np.unique(np.linspace(0, count - 1, min(samples, count)).round().astype(np.int64))
