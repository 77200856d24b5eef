"""Decoded events.jsonl backlogs kept as numpy files, so reopening a long run costs a file load, not a parse.

events.jsonl only ever grows, so what was decoded from its first N bytes stays true: the cache
stores that decoded prefix (series as arrays, other events as JSON) with N and fingerprints of the
file's first and last covered bytes. Opening a run loads the prefix when the fingerprints still
match and decodes only the bytes appended since. A rewritten or truncated file fails the check and
is decoded from scratch. Caches live under `$XDG_CACHE_HOME/labconsole/series/` (never in the run
folder, which belongs to the engine); `LABCONSOLE_SERIES_CACHE=off` disables them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from tui.data.event_columns import Chunk, decode_file
from tui.data.event_index import read_indexed

CACHE_VERSION = 1
"""Bumped when the stored layout changes (older files are ignored)."""
MIN_CACHED_BYTES = 4 << 20
"""Backlogs smaller than this decode faster than a cache file would pay back."""
FINGERPRINT_BYTES = 4096
"""Bytes hashed at the start and at the end of the covered prefix."""
KEEP_FILES = 200
"""Cache files kept; the least recently used beyond this are deleted."""


def cache_dir() -> Path | None:
    """Where series caches live, or None when disabled."""
    if os.environ.get("LABCONSOLE_SERIES_CACHE", "").lower() in ("off", "0", "no", "false"):
        return None
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home / "labconsole" / "series"


def read_backlog(events: Path, size: int) -> tuple[Chunk, int]:
    """Everything in events[0:size) (complete lines): the cached prefix plus a decode of the rest.

    Returns the chunk and the bytes consumed; a fresh cache is written when enough was decoded. The
    engine's own index (events.cols) comes first: loading it is faster than any cache.
    """
    indexed = read_indexed(events, size)
    if indexed is not None:
        head, start = indexed
        rest, used = decode_file(events, start, size)
        return _concat(head, rest), start + used
    folder = cache_dir()
    target = None if folder is None else folder / f"{_digest(events)}.npz"
    cached, start = (None, 0) if target is None else _load(target, events, size)
    rest, used = decode_file(events, start, size)
    chunk = rest if cached is None else _concat(cached, rest)
    if target is not None and used >= MIN_CACHED_BYTES:
        _save(target, events, chunk, start + used)
    return chunk, start + used


def _digest(events: Path) -> str:
    return hashlib.sha1(str(events.resolve()).encode()).hexdigest()[:20]


def _fingerprint(events: Path, covered: int) -> list[str]:
    """Hashes of the first and the last FINGERPRINT_BYTES of events[0:covered)."""
    with open(events, "rb") as f:
        head = f.read(min(FINGERPRINT_BYTES, covered))
        f.seek(max(0, covered - FINGERPRINT_BYTES))
        tail = f.read(min(FINGERPRINT_BYTES, covered))
    return [hashlib.sha1(head).hexdigest(), hashlib.sha1(tail).hexdigest()]


def _load(target: Path, events: Path, size: int) -> tuple[Chunk | None, int]:
    """The cached chunk and the bytes it covers, when still a prefix of the file; else (None, 0)."""
    try:
        with np.load(target, allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes())
            covered = int(meta["covered"])
            if meta.get("version") != CACHE_VERSION or covered > size:
                return None, 0
            if meta["fingerprint"] != _fingerprint(events, covered):
                return None, 0
            chunk = Chunk(events=json.loads(npz["events"].tobytes()), malformed=int(meta["malformed"]),
                          last_t=meta["last_t"])
            for i, (kind, key) in enumerate(meta["series"]):
                chunk.series[(kind, key)] = (npz[f"x{i}"], npz[f"y{i}"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return None, 0
    os.utime(target)  # recently used: kept by the pruning
    return chunk, covered


def _save(target: Path, events: Path, chunk: Chunk, covered: int) -> None:
    """Write the cache atomically; a failure only costs the next open a full decode."""
    keys = list(chunk.series)
    meta = {"version": CACHE_VERSION, "covered": covered, "fingerprint": _fingerprint(events, covered),
            "malformed": chunk.malformed, "last_t": chunk.last_t, "series": keys}
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "events": np.frombuffer(json.dumps(chunk.events, allow_nan=True).encode(), dtype=np.uint8),
    }
    for i, key in enumerate(keys):
        arrays[f"x{i}"], arrays[f"y{i}"] = chunk.series[key]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(buffer.getbuffer())
        os.replace(tmp, target)
        _prune(target.parent)
    except OSError:
        return


def _prune(folder: Path) -> None:
    """Delete the least recently used cache files beyond KEEP_FILES."""
    files = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in files[KEEP_FILES:]:
        stale.unlink(missing_ok=True)


def _concat(first: Chunk, second: Chunk) -> Chunk:
    """`first` followed by `second`, as one chunk."""
    out = Chunk(events=first.events + second.events, malformed=first.malformed + second.malformed,
                last_t=second.last_t if second.last_t is not None else first.last_t)
    for key in [*first.series, *(k for k in second.series if k not in first.series)]:
        parts = [c.series[key] for c in (first, second) if key in c.series]
        out.series[key] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    return out
