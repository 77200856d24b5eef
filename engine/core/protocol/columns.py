"""events.cols: a binary index of events.jsonl, written next to it by `EventWriter`, read by the console.

Why: parsing a million numbers out of JSON costs the console most of a second on a slow core, while
the writer holds those numbers as floats just before it serialises them. So it also appends them here,
16 bytes each, and the console loads a whole run's curves with one `numpy.frombuffer`. events.jsonl
stays the record of truth: this file only ever describes a prefix of it, and a reader that does not
know it (or finds it stale) reads events.jsonl line by line (`EventReader`).

Records are 16 little-endian bytes: `tag u8, pad u8, key u16, n u32, x f8`.

    POINT  key = series id, n = step, x = value    one numeric value of a scalar/system event
    OTHER  n = line length, x = line offset        any other event line (eval, status, control, …)
    KEY    key = series id, n = name length        followed by NAME records; name = "<kind>\\t<key>"
    NAME   bytes 1..15 = the next 15 bytes of the name
    END    key = c, n = crc32(events[x - c : x]), x = bytes of events.jsonl described so far

Only records before the last END count (a torn tail is ignored). The first and last END checksums
let a reader notice an events.jsonl that was replaced or rewritten.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

POINT, OTHER, KEY, NAME, END = 1, 2, 3, 4, 5
RECORD = struct.Struct("<BBHId")
"""One record: tag, pad, key, n, x."""
SERIES_KINDS = ("scalar", "system")
"""Event kinds whose numeric `values` are indexed as points."""
CHECKED_BYTES = 4096
"""Bytes of events.jsonl covered by each END checksum (the last ones described)."""
MAX_KEYS = 1 << 16
"""Series ids fit a u16; a run with more series stops indexing (readers decode the rest)."""
_NAME_BYTES = RECORD.size - 1
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def columns_path(events: str | os.PathLike[str]) -> Path:
    """The index belonging to an events file: events.jsonl → events.cols."""
    return Path(events).with_suffix(".cols")


def point_value(value: Any) -> float | None:
    """The float a reader of the JSON line gets for `value` (as written by EventWriter), or None."""
    if type(value) is float or type(value) is int:
        return float(value)
    if type(value) is str:
        return _NONFINITE.get(value)
    return None


class ColumnsWriter:
    """Appends records for the lines EventWriter writes; any failure just stops the indexing.

    Opening continues an existing index: a torn tail is cut, and lines written to events.jsonl but not
    yet indexed (a crash between the two writes, or a run from before the index existed) are indexed
    from their JSON first, so the index always starts at byte 0.
    """

    def __init__(self, events: Path, events_size: int) -> None:
        self.path = columns_path(events)
        self.keys: dict[tuple[str, str], int] = {}
        self._buf = bytearray()
        self._file = None
        try:
            covered = self._recover(events_size)
            self._file = open(self.path, "ab")  # noqa: SIM115  (open for the whole run)
            if covered < events_size:
                self._catch_up(events, covered, events_size)
        except (OSError, ValueError) as exc:
            log.warning("not indexing %s: %s", events, exc)
            self.close()

    @property
    def active(self) -> bool:
        """False once indexing stopped (the console then decodes the unindexed rest of events.jsonl)."""
        return self._file is not None

    def _recover(self, events_size: int) -> int:
        """Keys and bytes covered by the existing index, cut back to its last END; 0 when there is none."""
        if not self.path.exists():
            return 0
        import numpy as np  # the engine has numpy; only resuming a run reads an index back

        data = self.path.read_bytes()
        records = parse_records(data)
        ends = np.flatnonzero(records["tag"] == END)
        if not len(ends) or records["x"][ends[-1]] > events_size:
            self.path.unlink()
            return 0
        last = int(ends[-1]) + 1
        self.keys = {name: key for key, name in read_names(records[:last]).items()}
        if last * RECORD.size < len(data):
            os.truncate(self.path, last * RECORD.size)
        return int(records["x"][ends[-1]])

    def _catch_up(self, events: Path, start: int, end: int) -> None:
        """Index events[start:end) from its JSON (only after a crash or for a run indexed from then on)."""
        import json

        with open(events, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
        offset = start
        for line in data.split(b"\n")[:-1]:
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict):
                self.add(event.get("kind"), event.get("step"), event.get("values"), offset, len(line))
            elif line.strip():  # readers count it as malformed
                self._buf += RECORD.pack(OTHER, 0, 0, len(line), float(offset))
            offset += len(line) + 1
        self.end(offset, data[-CHECKED_BYTES:])

    def add(self, kind: Any, step: Any, values: Any, offset: int, length: int) -> None:
        """Records for one line of events.jsonl (its offset and length without the newline)."""
        if not self.active:
            return
        if kind not in SERIES_KINDS or type(values) is not dict:
            self._buf += RECORD.pack(OTHER, 0, 0, length, float(offset))
            return
        if type(step) is not int or not 0 <= step < 1 << 32:
            if type(step) is int or type(step) is float:
                self._buf += RECORD.pack(OTHER, 0, 0, length, float(offset))  # readers parse this one line
            return  # a point without a step has no place on a curve
        for name, value in values.items():
            number = point_value(value)
            if number is not None:
                self._buf += RECORD.pack(POINT, 0, self._key(kind, name), step, number)

    def _key(self, kind: str, name: str) -> int:
        key = self.keys.get((kind, name))
        if key is None:
            key = len(self.keys)
            if key >= MAX_KEYS:
                raise ValueError(f"more than {MAX_KEYS} series")
            self.keys[(kind, name)] = key
            encoded = f"{kind}\t{name}".encode()
            self._buf += RECORD.pack(KEY, 0, key, len(encoded), 0.0)
            for i in range(0, len(encoded), _NAME_BYTES):
                self._buf += bytes([NAME]) + encoded[i : i + _NAME_BYTES].ljust(_NAME_BYTES, b"\0")
        return key

    def end(self, events_end: int, tail: bytes) -> None:
        """Close a batch: events.jsonl now holds `events_end` bytes, the last ones being `tail`."""
        if not self.active:
            return
        checked = tail[-CHECKED_BYTES:]
        self._buf += RECORD.pack(END, 0, len(checked), zlib.crc32(checked), float(events_end))
        try:
            self._file.write(self._buf)  # type: ignore[union-attr]
            self._file.flush()  # type: ignore[union-attr]
        except (OSError, ValueError) as exc:
            log.warning("stopped indexing %s: %s", self.path, exc)
            self.close()
        self._buf.clear()

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        self._file = None


# -- reading -------------------------------------------------------------------------------------------


@dataclass
class IndexedPrefix:
    """What events.cols says about the first `covered` bytes of events.jsonl."""

    covered: int
    """Bytes of events.jsonl described (whole lines)."""
    series: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    """(kind, key) → (steps, values) of every indexed point, in file order."""
    others: list[tuple[int, int]]
    """(offset, length) of every other line, in file order: readers parse these few lines themselves."""
    records: np.ndarray | None = field(default=None, repr=False)
    """The records read (for `points_before`)."""

    def points_before(self, other: int) -> dict[tuple[str, str], int]:
        """How many points of each series come before the `other`-th line of `others` in events.jsonl (to
        place a resume marker among them)."""
        import numpy as np

        if self.records is None:
            raise ValueError("points_before needs the records the index was read from")
        tags = self.records["tag"]
        row = int(np.flatnonzero(tags == OTHER)[other])
        keys = self.records["key"][:row][tags[:row] == POINT].astype(np.intp)
        counts = np.bincount(keys, minlength=MAX_KEYS)
        return {name: int(counts[key]) for key, name in read_names(self.records).items()}


def read_index(events: str | os.PathLike[str]) -> IndexedPrefix | None:
    """The index of what events.jsonl holds now, or None when there is no usable one.

    Only records up to the last END within events.jsonl's size count, and only when the first and the
    last END checksums still match its bytes (not replaced or rewritten since).
    """
    import numpy as np

    try:
        records = parse_records(columns_path(events).read_bytes())
        with open(events, "rb") as f:  # after the index: every END read describes bytes already written
            size = os.fstat(f.fileno()).st_size
            ends = np.flatnonzero(records["tag"] == END)
            covered_at = records["x"][ends]
            if not len(ends) or np.any(np.diff(covered_at) <= 0):
                return None
            usable = ends[covered_at <= size]
            if not len(usable) or not all(_checksum_matches(f, records[int(i)]) for i in usable[[0, -1]]):
                return None
    except OSError:
        return None
    records = records[: int(usable[-1]) + 1]
    names = read_names(records)
    points = records[records["tag"] == POINT]
    order = np.argsort(points["key"], kind="stable")  # file order within each series
    steps, values = points["n"][order].astype(np.float64), points["x"][order]
    bounds = np.searchsorted(points["key"][order], np.arange(len(names) + 1))
    series = {}
    for key in sorted(names):
        a, b = int(bounds[key]), int(bounds[key + 1])
        if b > a:
            series[names[key]] = (steps[a:b], values[a:b])
    others = records[records["tag"] == OTHER]
    spans = list(zip(others["x"].astype(np.int64).tolist(), others["n"].tolist()))
    return IndexedPrefix(int(records["x"][-1]), series, spans, records)


def _checksum_matches(f, end: np.void) -> bool:
    """Whether the bytes an END record checksummed are still those of events.jsonl."""
    checked, covered = int(end["key"]), int(end["x"])
    f.seek(covered - checked)
    return zlib.crc32(f.read(checked)) == int(end["n"])


def record_dtype() -> np.dtype:
    import numpy as np

    return np.dtype([("tag", "u1"), ("pad", "u1"), ("key", "<u2"), ("n", "<u4"), ("x", "<f8")])


def parse_records(data: bytes | bytearray | memoryview) -> np.ndarray:
    """The whole records in `data` as a structured array (a view, no copy)."""
    import numpy as np

    return np.frombuffer(data, dtype=record_dtype(), count=len(data) // RECORD.size)


def read_names(records: np.ndarray) -> dict[int, tuple[str, str]]:
    """Series id → (kind, key) from the KEY and NAME records."""
    import numpy as np

    names = {}
    raw = records.view(np.uint8).reshape(-1, RECORD.size)
    for i in np.flatnonzero(records["tag"] == KEY).tolist():
        length = int(records["n"][i])
        parts = raw[i + 1 : i + 1 + -(-length // _NAME_BYTES), 1:].tobytes()[:length]
        kind, _, name = parts.decode("utf-8", "replace").partition("\t")
        names[int(records["key"][i])] = (kind, name)
    return names
