"""Qualitative figures drawn at evaluation (Pillow + numpy only): retrievals, overlays, confusion matrices."""

from __future__ import annotations

from engine.figures.figure import Figure, FigureSettings, sample_indices
from engine.figures.writer import write_figures

__all__ = ["Figure", "FigureSettings", "sample_indices", "write_figures"]
