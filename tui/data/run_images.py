"""The figures of a run: its `image` events read incrementally, their paths checked, grouped by kind and step.

The engine writes one PNG per figure under `figures/` at each evaluation and an `image` event naming it
(`{"kind": "image", "step": 500, "split": "sim2real", "tag": "retrievals", "path": "figures/…png",
"caption": "…"}`). A path that is absolute, climbs out with `..`, is not under `figures/` or resolves
(through a link) outside the run folder is skipped with a warning: the console only ever opens files of
the run it shows.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.protocol import EventReader, RunPaths
from engine.core.protocol.figures import UnsafeFigurePath, figure_file
from tui.data.run_events import read_events

log = logging.getLogger(__name__)

"""The folder of a run that holds every figure."""
TAG_ORDER = (
    "retrievals",
    "overlay",
    "detections",
    "confusion",
    "confused_pairs",
    "routing_map",
    "routing_heatmap",
)
"""Known figure tags in the order they are listed; other tags follow, alphabetically."""

FigureKind = tuple[str, str]
"""(tag, split): one kind of figure, drawn again at each evaluation."""


@dataclass(frozen=True)
class Figure:
    """One figure of one evaluation."""

    tag: str
    split: str
    step: int
    path: Path
    """The PNG, absolute and checked to lie under the run's figures/ folder."""
    caption: str

    @property
    def kind(self) -> FigureKind:
        return (self.tag, self.split)


def kind_label(kind: FigureKind) -> str:
    """'retrievals · sim2real'."""
    tag, split = kind
    return f"{tag} · {split}" if split else tag


def _kind_order(kind: FigureKind) -> tuple[int, str, str]:
    tag, split = kind
    known = TAG_ORDER.index(tag) if tag in TAG_ORDER else len(TAG_ORDER)
    return (known, tag, split)


class RunImages:
    """A run's figures, followed incrementally: `poll()` reads only what events.jsonl appended."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.paths = RunPaths(Path(run_dir))
        self.version = 0
        """Bumped whenever `poll` finds a new or replaced figure."""
        self._reset()

    def _reset(self) -> None:
        """Forget what was read (also when events.jsonl was truncated or replaced)."""
        self._by_kind: dict[FigureKind, dict[int, Figure]] = {}
        self.skipped: list[str] = []
        """Why each refused `image` event was skipped, in file order."""
        self._reader: EventReader | None = None
        self._offset = 0

    def has_news(self) -> bool:
        """Whether events.jsonl changed size since the last read (one os.stat: cheap enough for a UI timer)."""
        try:
            return os.stat(self.paths.events).st_size != self._offset
        except OSError:
            return False

    def poll(self) -> bool:
        """Read what events.jsonl appended since the last call; True when the figures changed."""
        try:
            size = os.stat(self.paths.events).st_size
        except OSError:
            return False
        changed = size < self._offset  # truncated or replaced: what was read is gone
        if changed:
            self._reset()
        if size > self._offset:
            chunk, self._reader = read_events(self.paths.events, self._reader)
            self._offset = self._reader.offset
            for event in chunk.events:
                kind = event.get("kind")
                if kind == "image":
                    changed |= self._add(event)
                elif kind == "resume" and isinstance(event.get("step"), (int, float)):
                    changed |= self._drop_after(event["step"])
        if changed:
            self.version += 1
        return changed

    def _add(self, event: dict[str, Any]) -> bool:
        """File one image event (the latest event for a kind and step wins: a resumed run draws it again)."""
        step = event.get("step")
        try:
            if type(step) is not int:
                raise UnsafeFigurePath(f"no integer step ({step!r})")
            path = figure_file(self.paths.root, event.get("path"))
        except UnsafeFigurePath as exc:
            log.warning("%s: image event skipped: %s", self.paths.events, exc)
            self.skipped.append(str(exc))
            return False
        figure = Figure(
            tag=str(event.get("tag") or "figure"),
            split=str(event.get("split") or ""),
            step=step,
            path=path,
            caption=str(event.get("caption") or ""),
        )
        self._by_kind.setdefault(figure.kind, {})[step] = figure
        return True

    def _drop_after(self, step: float) -> bool:
        """A resumed run redoes the steps after its checkpoint: figures drawn at them before are dropped."""
        dropped = False
        for figures in self._by_kind.values():
            for later in [s for s in figures if s > step]:
                del figures[later]
                dropped = True
        for kind in [k for k, figures in self._by_kind.items() if not figures]:
            del self._by_kind[kind]
        return dropped

    # -- reading ---------------------------------------------------------------------------------------

    def kinds(self) -> list[FigureKind]:
        """Every kind of figure the run has, known tags first (retrievals, overlay, confusion, pairs)."""
        return sorted(self._by_kind, key=_kind_order)

    def figures(self, kind: FigureKind) -> list[Figure]:
        """The figures of one kind, one per evaluation, by step."""
        by_step = self._by_kind.get(kind, {})
        return [by_step[s] for s in sorted(by_step)]

    def snapshot(self) -> FigureSet:
        """What was read so far, frozen: the screen reads it while the next poll runs in a thread."""
        return FigureSet(
            {kind: tuple(self.figures(kind)) for kind in self.kinds()}, tuple(self.skipped), self.version
        )


@dataclass(frozen=True)
class FigureSet:
    """A run's figures at one moment: by kind (in listing order), each kind's by step."""

    by_kind: dict[FigureKind, tuple[Figure, ...]] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    """Why each refused `image` event was skipped."""
    version: int = 0

    def kinds(self) -> list[FigureKind]:
        return list(self.by_kind)

    def figures(self, kind: FigureKind) -> tuple[Figure, ...]:
        return self.by_kind.get(kind, ())
