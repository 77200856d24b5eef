"""Figures to disk: one PNG per figure under <run>/figures/step_NNNNNN/, written atomically, each announced by
an `image` event (the console's image view and `labconsole export --figures` read them back)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from engine.core.protocol import EventWriter
from engine.core.protocol.figures import FIGURES_DIR
from engine.figures.canvas import limit_width
from engine.figures.figure import Figure

PNG_LEVEL = 1  # zlib effort: level 6 (the default) takes 3× as long for files 10% smaller


def figure_path(step: int, tag: str, split: str) -> str:
    """Where a figure goes, relative to the run folder: figures/step_000500/retrievals-sim2real.png."""
    safe_split = re.sub(r"[^A-Za-z0-9._-]", "_", split) or "_"
    return f"{FIGURES_DIR}/step_{step:06d}/{tag}-{safe_split}.png"


def write_figures(run_root: Path, events: EventWriter, step: int, figures: Sequence[Figure]) -> list[Path]:
    """Write each figure and emit its `image` event; a figure that cannot be written is an alert, not a failure
    (figures illustrate a run, they never end one). Returns the files written."""
    written = []
    for figure in figures:
        relative = figure_path(step, figure.tag, figure.split)
        path = run_root / relative
        temporary = path.with_name(f".{path.name}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            limit_width(figure.image.convert("RGB")).save(temporary, format="PNG", compress_level=PNG_LEVEL)
            os.replace(temporary, path)
        except OSError as exc:
            events.emit(
                "alert",
                step=step,
                level="warning",
                code="figure_failed",
                message=f"cannot write {path}: {exc.strerror or exc}",
            )
            continue
        events.emit(
            "image", step=step, split=figure.split, tag=figure.tag, path=relative, caption=figure.caption
        )
        written.append(path)
    return written
