"""A run's events.jsonl as the console reads it: the engine's index for the prefix it covers, EventReader after.

Every run the engine writes has events.cols (`engine.core.protocol.columns`): opening a run with a million
points loads their numbers with one `numpy.frombuffer`, and only the few other lines (eval, status,
control, …) are parsed from events.jsonl. What the index does not cover goes through `EventReader`, line
by line: lines appended since, and whole runs without a usable index (written by another tool or before
the index existed, or replaced since), which are slower to open. Following a live run reads only what was
appended. `LABCONSOLE_EVENT_INDEX=off` ignores indexes.

A resumed run writes the steps after its last checkpoint again, after a `resume` marker: whichever way the
lines are read, what a marker says was redone is dropped here (`kept_after_resumes`), and a chunk tells what
its markers drop from the chunks read before it (`Chunk.resumed_from`).
"""

from __future__ import annotations

import logging
import os
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.protocol import EventReader
from engine.core.protocol.columns import SERIES_KINDS, read_index
from engine.core.protocol.events import kept_after_resumes, parse_event, redone_step, resume_step

log = logging.getLogger(__name__)

TAIL_BYTES = 64 << 10
"""Bytes read back from the end of the indexed part to find the last event's time."""

Series = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
Counts = dict[tuple[str, str], int]


@dataclass
class Chunk:
    """What a run of complete events.jsonl lines holds, ready for `RunStream` to merge."""

    series: Series = field(default_factory=dict)
    """(kind, key) → (steps, values) in file order, for every numeric value of scalar/system events."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """Every other event (eval, status, control, freeze, checkpoint, alert, …) in file order."""
    malformed: int = 0
    """Complete non-blank lines that were not JSON objects."""
    last_t: float | None = None
    """The `t` of the last event, when it had one."""
    resumed_from: float | None = None
    """The lowest step a `resume` marker in these lines restarted from: what earlier chunks hold at later
    steps was redone (this chunk's own redone records are dropped already)."""


@dataclass
class _Resume:
    """A resume marker as read: the step it restarted from, placed among the records before it."""

    step: float
    points_before: Counts
    """How many points of each series come before the marker."""
    events_before: int
    """How many other events come before it."""


def _drop_redone(chunk: Chunk, resumes: list[_Resume]) -> None:
    """Drop from `chunk` the series points and evaluations its resume markers say were redone."""
    if not resumes:
        return
    for key, (x, y) in chunk.series.items():
        keep = kept_after_resumes(x, [(r.points_before.get(key, 0), r.step) for r in resumes])
        if keep is not None:
            chunk.series[key] = (x[keep], y[keep])
    steps = np.array([redone_step(ev) for ev in chunk.events])
    keep = kept_after_resumes(steps, [(r.events_before, r.step) for r in resumes])
    if keep is not None:
        chunk.events = [ev for ev, kept in zip(chunk.events, keep.tolist()) if kept]
    chunk.resumed_from = min(r.step for r in resumes)


def index_enabled() -> bool:
    """False when LABCONSOLE_EVENT_INDEX turns indexes off."""
    return os.environ.get("LABCONSOLE_EVENT_INDEX", "").lower() not in ("off", "0", "no", "false")


def read_events(path: str | os.PathLike[str], reader: EventReader | None = None) -> tuple[Chunk, EventReader]:
    """What `reader` has not read yet (without one: the whole file, its indexed prefix from events.cols),
    and the reader, now at the end, to follow the file with. A missing file reads as empty."""
    chunk, resumes = Chunk(), list[_Resume]()
    if reader is None:
        covered = _read_indexed(Path(path), chunk, resumes) if index_enabled() else 0
        reader = EventReader(path, offset=covered)
    indexed = {key: len(x) for key, (x, _) in chunk.series.items()}
    points: dict[tuple[str, str], tuple[array[float], array[float]]] = {}
    malformed, last = reader.malformed, None
    for batch in reader.read_batches():
        _route(
            batch, points, chunk.events, lambda step: resumes.append(_placed(step, indexed, points, chunk))
        )
        last = batch[-1] if batch else last
    chunk.malformed += reader.malformed - malformed
    for key, (steps, values) in points.items():
        x, y = np.frombuffer(steps), np.frombuffer(values)
        if key in chunk.series:
            head = chunk.series[key]
            x, y = np.concatenate((head[0], x)), np.concatenate((head[1], y))
        chunk.series[key] = (x, y)
    t = _time(last)
    if t is not None:
        chunk.last_t = t
    _drop_redone(chunk, resumes)
    return chunk, reader


def _placed(step: float, indexed: Counts, points: dict, chunk: Chunk) -> _Resume:
    """A resume marker met after the indexed points (`indexed`) and the decoded ones so far (`points`)."""
    before = dict(indexed)
    for key, (steps, _) in points.items():
        before[key] = before.get(key, 0) + len(steps)
    return _Resume(step, before, len(chunk.events))


def _route(
    events: Iterable[dict[str, Any]],
    points: dict,
    others: list[dict[str, Any]],
    on_resume: Callable[[float], None],
) -> None:
    """The numbers of scalar/system events onto `points` ((kind, key) → (steps, values) arrays), the rest
    onto `others`; `on_resume` hears of each resume marker before it joins `others`."""
    for ev in events:
        kind, values, step = ev.get("kind"), ev.get("values"), ev.get("step")
        if kind not in SERIES_KINDS or type(values) is not dict:
            if kind == "resume" and (resumed := resume_step(ev)) is not None:
                on_resume(resumed)
            others.append(ev)
            continue
        if type(step) is not int and type(step) is not float:
            continue  # a point without a step has no place on a curve
        for key, v in values.items():
            if type(v) is float or type(v) is int:
                series = points.get((kind, key))
                if series is None:
                    series = points[(kind, key)] = (array("d"), array("d"))
                series[0].append(step)
                series[1].append(v)


def _time(event: dict[str, Any] | None) -> float | None:
    """An event's `t`, when it has a number there."""
    t = event.get("t") if event else None
    return float(t) if type(t) is int or type(t) is float else None


def _read_indexed(events: Path, chunk: Chunk, resumes: list[_Resume]) -> int:
    """Fill `chunk` (and `resumes`) from events.cols and the lines it points to; the bytes covered (0: no
    usable index, nothing filled)."""
    index = read_index(events)
    if index is None:
        return 0
    others: list[dict[str, Any]] = []
    markers: list[_Resume] = []
    malformed = 0
    try:
        with open(events, "rb") as f:
            for i, (offset, length) in enumerate(index.others):
                f.seek(offset)
                line = f.read(length).decode("utf-8", "replace")
                event = parse_event(line)
                if event is None:
                    if line.strip():
                        malformed += 1
                        log.warning("%s: skipped malformed line at byte %d: %.80r", events, offset, line)
                    continue
                if event.get("kind") in SERIES_KINDS and type(event.get("values")) is dict:
                    return 0  # points at a step the index cannot hold: read it all, in file order
                resumed = resume_step(event)
                if resumed is not None:
                    markers.append(_Resume(resumed, index.points_before(i), len(others)))
                others.append(event)
            last_t = _last_time(f, index.covered)
    except OSError:
        return 0
    chunk.series, chunk.events, chunk.malformed, chunk.last_t = index.series, others, malformed, last_t
    resumes += markers
    return index.covered


def _last_time(f, covered: int) -> float | None:
    """The `t` of the last complete line before `covered`."""
    start = max(0, covered - TAIL_BYTES)
    f.seek(start)
    tail = f.read(covered - start)
    return _time(parse_event(tail[tail.rfind(b"\n", 0, len(tail) - 1) + 1 : -1].decode("utf-8", "replace")))
