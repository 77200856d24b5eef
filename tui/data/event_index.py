"""Loading a run's backlog from events.cols, the binary index the engine writes next to events.jsonl.

A million points load with one `numpy.frombuffer` and a sort by series instead of a JSON parse; only
the few other events (eval, status, control, …) are read from events.jsonl, by their recorded offsets.
The index is trusted only when its first and last checksums match events.jsonl; anything odd and the
caller decodes events.jsonl as before. `LABCONSOLE_EVENT_INDEX=off` ignores indexes.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

from engine.core.protocol.columns import END, OTHER, POINT, columns_path, parse_records, read_names
from tui.data.event_columns import Chunk, decode_line, route_event

TAIL_BYTES = 64 << 10
"""Bytes read back from the end of the indexed part to find the last event's time."""


def index_enabled() -> bool:
    """False when LABCONSOLE_EVENT_INDEX turns indexes off."""
    return os.environ.get("LABCONSOLE_EVENT_INDEX", "").lower() not in ("off", "0", "no", "false")


def read_indexed(events: Path, size: int) -> tuple[Chunk, int] | None:
    """What events[0:covered) holds, from the index, and `covered`; None without a usable index."""
    if not index_enabled():
        return None
    try:
        data = columns_path(events).read_bytes()
    except OSError:
        return None
    records = parse_records(data)
    ends = np.flatnonzero(records["tag"] == END)
    covered_at = records["x"][ends]
    if not len(ends) or np.any(np.diff(covered_at) <= 0):
        return None
    usable = ends[covered_at <= size]
    if not len(usable):
        return None
    records = records[: int(usable[-1]) + 1]
    try:
        with open(events, "rb") as f:
            if not all(_checksum_matches(f, records[int(i)]) for i in (usable[0], usable[-1])):
                return None
            chunk = _chunk(f, records)
    except OSError:
        return None
    return None if chunk is None else (chunk, int(records["x"][-1]))


def _checksum_matches(f, end: np.void) -> bool:  # type: ignore[no-untyped-def]
    """Whether the bytes an END record checksummed are still those of events.jsonl."""
    checked, covered = int(end["key"]), int(end["x"])
    f.seek(covered - checked)
    return zlib.crc32(f.read(checked)) == int(end["n"])


def _chunk(f, records: np.ndarray) -> Chunk | None:  # type: ignore[no-untyped-def]
    """Series from the POINT records, other events read from their lines, the last event's time."""
    names = read_names(records)
    tags = records["tag"]
    points = records[tags == POINT]
    order = np.argsort(points["key"], kind="stable")  # file order within each series
    keys = points["key"][order]
    steps, values = points["n"][order].astype(np.float64), points["x"][order]
    bounds = np.searchsorted(keys, np.arange(len(names) + 1))
    chunk = Chunk()
    for key in sorted(names):
        a, b = int(bounds[key]), int(bounds[key + 1])
        if b > a:
            chunk.series[names[key]] = (steps[a:b], values[a:b])
    others = records[tags == OTHER]
    for offset, length in zip(others["x"].astype(np.int64).tolist(), others["n"].tolist()):
        f.seek(offset)
        raw = f.read(length)
        event = decode_line(raw)
        if event is None:
            chunk.malformed += bool(raw.strip())
            continue
        found: dict = {}
        route_event(event, found, chunk.events)
        if found:
            return None  # a point the index left to the JSON (odd step): keep file order, decode it all
    chunk.last_t = _last_time(f, int(records["x"][-1]))
    return chunk


def _last_time(f, covered: int) -> float | None:  # type: ignore[no-untyped-def]
    """The `t` of the last complete line before `covered`."""
    start = max(0, covered - TAIL_BYTES)
    f.seek(start)
    tail = f.read(covered - start)
    line = tail[tail.rfind(b"\n", 0, len(tail) - 1) + 1 : -1]
    event = decode_line(line)
    t = event.get("t") if event else None
    return float(t) if type(t) in (int, float) else None
