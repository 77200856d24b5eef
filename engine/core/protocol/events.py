"""events.jsonl: a writer that never blocks the training step, and a tolerant incremental reader."""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.protocol.columns import CHECKED_BYTES, ColumnsWriter

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

_RESERVED = frozenset(("t", "seq", "kind", "step"))
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_RESTORED_KEYS = ("values", "metrics")  # where non-finite strings are turned back into floats
_BLOCK = 16 << 20  # read size: bounds memory on huge files without many syscalls
_TAIL = 64 << 10  # bytes read back from an existing file to continue its "seq"

# Compact and strict: allow_nan=False makes non-finite floats fail fast, so only records that hold
# one pay for the sanitising walk.
_encode = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode
_decode = json.JSONDecoder().decode

Pending = tuple[float, str, "int | None", dict[str, Any]]


def _finite(x: float) -> float | str:
    """`x`, or "nan" / "inf" / "-inf" so that the line stays valid JSON."""
    if math.isnan(x):
        return "nan"
    if x in (math.inf, -math.inf):
        return "inf" if x > 0 else "-inf"
    return x


def _plain(obj: Any) -> Any:
    """`obj` as JSON-ready data: non-finite floats as strings, tensors/arrays via tolist()."""
    if isinstance(obj, float):
        return _finite(obj)
    if obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy scalars/arrays and torch tensors, without importing either
        return _plain(obj.tolist())
    if hasattr(obj, "__float__"):
        return _finite(float(obj))
    return str(obj)


def _restore(obj: dict[str, Any]) -> None:
    """Turn the strings "nan" / "inf" / "-inf" back into floats, in place, in nested dicts."""
    for k, v in obj.items():
        if type(v) is str and v in _NONFINITE:
            obj[k] = _NONFINITE[v]
        elif type(v) is dict:
            _restore(v)


def _last_seq(path: Path) -> int:
    """The "seq" of the last complete record in an existing file, or -1."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - _TAIL))
            lines = f.read().split(b"\n")
    except OSError:
        return -1
    for line in reversed(lines[:-1]):  # lines[-1] is empty or a torn fragment
        try:
            seq = json.loads(line).get("seq")
        except (ValueError, AttributeError):
            continue
        if isinstance(seq, int):
            return seq
    return -1


class EventWriter:
    """Append-only JSONL event writer: callers only enqueue; a daemon thread serialises and writes.

    Each call costs a tuple and a dict copy (~1 µs), never json.dumps or I/O. Records are written
    and flushed at least every `flush_interval` seconds, on `flush()`, `close()` and at exit.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        flush_interval: float = 0.5,
        max_pending: int = 50_000,
        index: bool = True,
    ):
        self.path = Path(path)
        """The events.jsonl being appended to."""
        self.flush_interval = flush_interval
        """Longest time a captured event waits before it reaches the file."""
        self._max_pending = max_pending  # wake the thread early past this many, to bound memory
        self._pending: deque[Pending] = deque()  # append/popleft are atomic: producers take no lock
        self._io_lock = threading.Lock()  # serialises draining: background thread vs flush()/close()
        self._wake = threading.Event()
        self._closed = False
        self.write_error: OSError | None = None
        """The first failed write (a full disk, a quota): the engine ends the run on it, naming the cause."""
        self._seq = _last_seq(self.path) + 1  # a resumed run keeps seq increasing
        self._file = open(self.path, "ab")  # noqa: SIM115  (open for the whole run)
        self._end_torn_line()
        self._size = self._file.tell()
        # events.cols: the numbers in binary too, so the console opens long runs without parsing JSON
        self._columns = ColumnsWriter(self.path, self._size) if index else None
        self._thread = threading.Thread(target=self._run, name=f"EventWriter:{self.path}", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def _end_torn_line(self) -> None:
        """Terminate a fragment left by a crash, so our first record does not glue onto it."""
        if self._file.tell() == 0:
            return
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                self._file.write(b"\n")
                self._file.flush()

    # -- producers: capture only -------------------------------------------------------------------

    def scalar(self, step: int, values: dict[str, float]) -> None:
        """Record training scalars ("loss/total", "lr/backbone", …) at `step`."""
        if self._closed:
            raise ValueError("EventWriter is closed")
        self._pending.append((time.time(), "scalar", step, {"values": dict(values)}))
        if len(self._pending) > self._max_pending:
            self._wake.set()

    def system(self, step: int, values: dict[str, float]) -> None:
        """Record system gauges (img_per_s, memory) at `step`."""
        if self._closed:
            raise ValueError("EventWriter is closed")
        self._pending.append((time.time(), "system", step, {"values": dict(values)}))
        if len(self._pending) > self._max_pending:
            self._wake.set()

    def emit(self, kind: str, step: int | None = None, **fields: Any) -> None:
        """Record any other event (eval, status, control, freeze, checkpoint, alert)."""
        if self._closed:
            raise ValueError("EventWriter is closed")
        self._pending.append((time.time(), kind, step, fields))
        if len(self._pending) > self._max_pending:
            self._wake.set()

    # -- consumer: serialise and write ---------------------------------------------------------------

    def _run(self) -> None:
        """Background loop: drain every `flush_interval` seconds (or sooner when woken)."""
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self._drain()
            except OSError as exc:  # a full disk: say it once; the trainer reads write_error and ends the run
                if self.write_error is None:
                    log.error("cannot write %s: %s", self.path, exc.strerror or exc)
                    self.write_error = exc
            except Exception:  # a logging failure must never take the run down
                log.exception("event writer for %s failed to write", self.path)

    def _drain(self) -> None:
        """Serialise and write every captured event, in capture order, then flush the file."""
        with self._io_lock:
            if self._file.closed or not self._pending:
                return
            popleft = self._pending.popleft
            lines = []
            columns = self._columns if self._columns is not None and self._columns.active else None
            if columns is not None:
                on_disk = os.fstat(self._file.fileno()).st_size
                if on_disk != self._size:  # another process appended: our offsets would be wrong
                    columns.close()  # readers decode the rest from the JSON
                    columns, self._size = None, on_disk
            offset = self._size
            for _ in range(len(self._pending)):
                event = popleft()
                try:
                    line, rec = self._line(*event)
                except Exception:  # drop the one record that cannot be written, not the batch
                    log.exception("dropping an event that cannot be written to %s: %.200r", self.path, event)
                    continue
                lines.append(line)
                if columns is not None:  # ensure_ascii: characters are bytes
                    columns.add(rec["kind"], rec.get("step"), rec.get("values"), offset, len(line))
                offset += len(line) + 1
            lines.append("")  # so the join ends with a newline
            data = "\n".join(lines).encode()
            self._file.write(data)
            self._file.flush()
            self._size += len(data)
            if columns is not None:
                columns.end(self._size, data[-CHECKED_BYTES:])

    def _line(
        self, t: float, kind: str, step: int | None, fields: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """One JSON record (no newline) and the record as written (what the index must agree with); header
        keys come first and fields cannot override them."""
        rec: dict[str, Any] = {"t": t, "seq": self._seq, "kind": kind}
        if step is not None:
            rec["step"] = step if type(step) is int else int(step)
        if _RESERVED.isdisjoint(fields):
            rec.update(fields)
        else:
            rec.update((k, v) for k, v in fields.items() if k not in _RESERVED)
        self._seq += 1
        try:
            return _encode(rec), rec
        except (ValueError, TypeError):  # NaN/Inf, numpy or tensor values: take the slow path
            plain = _plain(rec)
            return _encode(plain), plain

    def flush(self) -> None:
        """Write everything captured so far, synchronously."""
        self._drain()

    def close(self) -> None:
        """Flush, stop the background thread and close the file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        self._drain()
        with self._io_lock:
            self._file.close()
            if self._columns is not None:
                self._columns.close()
        atexit.unregister(self.flush)

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_event(line: str) -> dict[str, Any] | None:
    """One line of events.jsonl as readers get it ("nan" / "inf" / "-inf" strings in values and metrics
    turned back into floats), or None when it is not a JSON object."""
    try:
        rec = _decode(line)
    except (ValueError, RecursionError):
        return None
    if type(rec) is not dict:
        return None
    if '"nan"' in line or 'inf"' in line:  # a cheap substring test spares the walk
        for key in _RESTORED_KEYS:
            if type(rec.get(key)) is dict:
                _restore(rec[key])
    return rec


# -- resumed runs: which records readers drop ---------------------------------------------------------

REDONE_KINDS = ("scalar", "system", "eval")
"""Records a resumed run writes again for the steps it redoes after its last checkpoint."""


def resume_step(event: dict[str, Any]) -> float | None:
    """The step a `resume` event says training restarted from (its checkpoint's); None for other events."""
    step = event.get("step")
    if event.get("kind") != "resume" or (type(step) is not int and type(step) is not float):
        return None
    return float(step)


def redone_step(event: dict[str, Any]) -> float:
    """The step a later resume compares an event with: its step for a record that is redone, else -inf."""
    step = event.get("step")
    if event.get("kind") in REDONE_KINDS and (type(step) is int or type(step) is float):
        return float(step)
    return -math.inf


def kept_after_resumes(steps: np.ndarray, resumes: Iterable[tuple[int, float]]) -> np.ndarray | None:
    """Which records of one series (their steps, in file order) a reader keeps; None when all of them.

    A run killed after its last checkpoint and resumed from it writes the steps after the checkpoint again:
    the records written before the `resume` marker at later steps than the one it resumed from are dropped,
    so each step keeps its latest record. `resumes` gives each marker, in file order, as (how many of the
    records come before it, the step it resumed from). Every reader of curves goes through this rule.
    """
    keep = None
    for before, step in resumes:
        redone = steps[:before] > step
        if redone.any():
            if keep is None:
                import numpy as np  # only resumed runs get here

                keep = np.ones(len(steps), dtype=bool)
            keep[:before] &= ~redone
    return keep


class EventReader:
    """Reads only what was appended to an events file since the last call; tolerant of bad lines."""

    def __init__(self, path: str | os.PathLike[str], offset: int = 0):
        self.path = Path(path)
        """The events.jsonl being followed."""
        self.malformed = 0
        """How many complete lines were skipped because they were not JSON objects."""
        self._offset = offset
        self._lines = 0  # complete lines consumed, to name bad lines in warnings

    @property
    def offset(self) -> int:
        """Byte offset just past the last complete line read."""
        return self._offset

    def read_new(self) -> list[dict[str, Any]]:
        """Events from complete lines appended since the last call; [] when the file is missing."""
        return [event for batch in self.read_batches() for event in batch]

    def read_batches(self) -> Iterator[list[dict[str, Any]]]:
        """What `read_new` returns, block by block, so that a long backlog is never all held as dicts; the
        offset moves only over complete lines, as each block is taken."""
        try:
            f = open(self.path, "rb")  # noqa: SIM115  (a missing file is no error; `with f` below)
        except FileNotFoundError:
            return
        with f:
            if os.fstat(f.fileno()).st_size < self._offset:
                log.warning(
                    "%s shrank below offset %d: reading it again from the start", self.path, self._offset
                )
                self._offset, self._lines = 0, 0
            f.seek(self._offset)
            carry = b""
            while block := f.read(_BLOCK):
                data = carry + block if carry else block
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                if cut:
                    self._offset += cut
                    yield self._parse(data[:cut])

    def _parse(self, chunk: bytes) -> list[dict[str, Any]]:
        """Events in `chunk` (complete lines only); bad lines are counted and logged once."""
        lines = chunk.decode("utf-8", "replace").split("\n")
        lines.pop()  # empty: the chunk ends with "\n"
        out = []
        for i, line in enumerate(lines):
            rec = parse_event(line)
            if rec is None:
                self._skip(line, self._lines + i + 1)
            else:
                out.append(rec)
        self._lines += len(lines)
        return out

    def _skip(self, line: str, lineno: int) -> None:
        """Count and log one unusable line (blank lines are ignored silently)."""
        if not line.strip():
            return
        self.malformed += 1
        log.warning("%s: skipped malformed line %d: %.80r", self.path, lineno, line)


def iter_events(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every event of a whole file, skipping bad lines; a final line without newline is tried too."""
    reader = EventReader(path)
    for batch in reader.read_batches():
        yield from batch
    try:
        with open(reader.path, "rb") as f:
            f.seek(reader.offset)
            tail = f.read()
    except OSError:
        return
    if tail.strip():
        yield from reader._parse(tail + b"\n")
