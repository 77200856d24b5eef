"""Bulk decoding of events.jsonl: numeric columns of scalar/system lines without one json.loads per line.

Opening a run with a million points through `json.loads` costs seconds (about 5 µs a line on a slow
core). But lines written by one engine come in a few shapes, identical bytes apart from the numbers.
For each block of lines this module finds the numeric tokens with numpy, decodes one sample line with
json to learn which token is which key, checks byte for byte which other lines share the sample's
skeleton (everything but the numbers), and parses the numbers of all those lines at once (SWAR:
eight digits per 64-bit word). Lines of no known shape (eval, status, control, malformed, …) go
through json like `EventReader` reads them, so the result is exactly what decoding every line with
json gives; tests check that against the brute-force reference.
"""

from __future__ import annotations

import json
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tui.data.json_numbers import parse_numbers, unaligned_words

SERIES_KINDS = ("scalar", "system")
"""Event kinds whose `values` become numeric series."""

_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_U = np.uint64
_SPECIAL = {
    b'"nan"': math.nan,
    b'"inf"': math.inf,
    b'"-inf"': -math.inf,
    b"NaN": math.nan,
    b"Infinity": math.inf,
    b"-Infinity": -math.inf,
}
_JSON_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_BLOCK = 4 << 20  # bytes per vectorised pass: bounds the temporaries
_PAD = 64  # zero bytes around a block, so every 8-byte load stays inside the buffer
_MIN_LINES = 16  # below this many lines a block is simply decoded line by line
_MAX_SAMPLES = 32  # sample lines tried per block before the rest goes line by line
_BATCH = 8192  # tokens parsed per vector pass
_THREADS = min(4, os.cpu_count() or 1)  # blocks decoded at once


Series = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
Pieces = dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray, np.ndarray]]]


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


# -- the line-by-line path (reference semantics) --------------------------------------------------


def decode_line(line: bytes | str) -> dict[str, Any] | None:
    """One event as `EventReader` gives it ("nan"/"inf" strings in values/metrics restored), or None."""
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if type(rec) is not dict:
        return None
    for key in ("values", "metrics"):
        sub = rec.get(key)
        if type(sub) is dict:
            for k, v in sub.items():
                if type(v) is str and v in _NONFINITE:
                    sub[k] = _NONFINITE[v]
    return rec


def chunk_from_events(events: list[dict[str, Any]]) -> Chunk:
    """A `Chunk` built from already decoded events (the small, live path)."""
    chunk = Chunk()
    pieces: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for ev in events:
        route_event(ev, pieces, chunk.events)
    chunk.series = {
        k: (np.asarray(s, dtype=np.float64), np.asarray(v, dtype=np.float64)) for k, (s, v) in pieces.items()
    }
    if events and _is_number(events[-1].get("t")):
        chunk.last_t = float(events[-1]["t"])
    return chunk


def route_event(ev: dict[str, Any], pieces: dict, others: list) -> None:
    """Append an event's numbers to `pieces` ((kind, key) → (steps, values)), or the event to `others`."""
    kind, values, step = ev.get("kind"), ev.get("values"), ev.get("step")
    if kind not in SERIES_KINDS or type(values) is not dict:
        others.append(ev)
        return
    if not _is_number(step):
        return  # a point without a step has no place on a curve
    for key, v in values.items():
        if _is_number(v):
            steps, vals = pieces.setdefault((kind, key), ([], []))
            steps.append(step)
            vals.append(v)


def _is_number(v: Any) -> bool:
    """True for int and float, not bool."""
    return type(v) is float or type(v) is int


# -- the bulk path --------------------------------------------------------------------------------


def decode_chunk(data: bytes) -> Chunk:
    """Decode `data` (complete lines, each ending with a newline)."""
    buf = bytearray(_PAD + len(data) + _PAD)
    buf[_PAD : _PAD + len(data)] = data
    return _decode_padded(buf)


def decode_file(path: str | os.PathLike[str], offset: int, size: int) -> tuple[Chunk, int]:
    """Decode the complete lines of file bytes [offset, size); returns the chunk and the bytes consumed.

    The bytes are read straight into a zero-padded buffer: no copy of a possibly huge backlog.
    """
    n = max(0, size - offset)
    buf = bytearray(_PAD + n + _PAD)
    with open(path, "rb") as f:
        f.seek(offset)
        got = f.readinto(memoryview(buf)[_PAD : _PAD + n])
    cut = buf.rfind(b"\n", _PAD, _PAD + got) + 1
    if cut <= 0:
        return Chunk(), 0
    buf[cut:] = bytes(len(buf) - cut)  # drop a torn last line
    del buf[cut + _PAD :]
    return _decode_padded(buf), cut - _PAD


def _decode_padded(buf: bytearray) -> Chunk:
    """Decode buf[_PAD:-_PAD] block by block, blocks spread over threads (numpy releases the GIL)."""
    b = np.frombuffer(buf, dtype=np.uint8)
    words = unaligned_words(b)
    bounds, start, stop = [], _PAD, len(buf) - _PAD
    while start < stop:
        end = stop
        if start + _BLOCK < stop:
            end = buf.rfind(b"\n", start, start + _BLOCK) + 1
            if end <= start:  # a single line longer than a block
                end = buf.index(b"\n", start) + 1
        bounds.append((start, end))
        start = end

    def decode(bound: tuple[int, int]) -> tuple[dict, Chunk]:
        pieces: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = {}
        part = Chunk()
        _decode_block(_Lines(buf, b, words, *bound), pieces, part)
        return pieces, part

    if len(bounds) > 1 and _THREADS > 1:
        with ThreadPoolExecutor(min(_THREADS, len(bounds)), thread_name_prefix="decode-events") as pool:
            parts = list(pool.map(decode, bounds))
    else:
        parts = [decode(bound) for bound in bounds]
    out = Chunk()
    merged: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = {}
    for pieces, part in parts:  # in file order
        for key, ps in pieces.items():
            merged.setdefault(key, []).extend(ps)
        out.events.extend(part.events)
        out.malformed += part.malformed
        out.last_t = part.last_t if part.last_t is not None else out.last_t
    out.series = {
        k: (np.concatenate([p[0] for p in ps]), np.concatenate([p[1] for p in ps]))
        for k, ps in merged.items()
    }
    return out


def _decode_block(lines: _Lines, pieces: dict, out: Chunk) -> None:
    """Decode one block: known shapes by columns, the rest line by line, merged in file order."""
    found: Pieces = {}
    covered = (
        _bulk_lines(lines, found) if len(lines.start) >= _MIN_LINES else np.zeros(len(lines.start), bool)
    )
    slow: dict[tuple[str, str], tuple[list[int], list[float], list[float]]] = {}
    for i in np.flatnonzero(~covered).tolist():
        raw = lines.raw(i)
        ev = decode_line(raw)
        if ev is None:
            out.malformed += bool(raw.strip())
            continue
        one: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        route_event(ev, one, out.events)
        for key, (s, v) in one.items():
            idx, steps, vals = slow.setdefault(key, ([], [], []))
            idx.append(i)
            steps.extend(s)
            vals.extend(v)
    for key, (idx, s, v) in slow.items():
        found.setdefault(key, []).append((np.asarray(idx), np.asarray(s, float), np.asarray(v, float)))
    for key, parts in found.items():
        pieces.setdefault(key, []).append(_merge(parts))
    if len(lines.start):
        last = decode_line(lines.raw(len(lines.start) - 1))
        if last is not None and _is_number(last.get("t")):
            out.last_t = float(last["t"])


def _merge(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one key in file order, from pieces tagged with line indices."""
    if len(parts) == 1:
        return parts[0][1].astype(np.float64), parts[0][2]
    order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
    return (
        np.concatenate([p[1] for p in parts]).astype(np.float64)[order],
        np.concatenate([p[2] for p in parts])[order],
    )


class _Lines:
    """Line boundaries and numeric-looking tokens (values after a ':') of the block buf[lo:hi].

    Positions are absolute in `buf`, which is zero-padded so that loads past either end are safe.
    """

    def __init__(self, buf: bytearray, b: np.ndarray, words: np.ndarray, lo: int, hi: int) -> None:
        self.buf, self.b, self.words = buf, b, words
        part = b[lo:hi]
        marks = np.flatnonzero((part == 58) | (part == 10) | (part == 44) | (part == 125)) + lo  # : \n , }
        kind = b[marks]
        is_nl = kind == 10
        nl = marks[is_nl]
        self.end = nl
        self.start = np.concatenate(([lo], nl[:-1] + 1)) if len(nl) else nl
        colon = np.flatnonzero(kind == 58)
        colon = colon[colon + 1 < len(marks)]
        ts = marks[colon] + 1
        ts += b[ts] == 32  # json.dumps' default ": " separator
        f, g = b[ts], b[ts + 1]
        neg = f == 45
        numeric = ((f - 48) < 10) | (neg & ((g - 48) < 10))
        special = (
            ((f == 34) & ((g == 110) | (g == 105) | (g == 45))) | (f == 78) | (f == 73) | (neg & (g == 73))
        )  # "nan" "inf" "-inf" NaN Infinity -Infinity
        keep = numeric | special
        self.ts, self.special = ts[keep], special[keep]
        self.te = marks[colon[keep] + 1]  # a number holds no mark: the next one ends it
        self.line = np.cumsum(is_nl)[colon[keep]]  # newlines before the token
        self.count = np.bincount(self.line, minlength=len(nl))[: len(nl)]
        self.first = np.cumsum(self.count) - self.count

    def raw(self, i: int) -> bytes:
        """The bytes of line `i`, without its newline."""
        return bytes(self.buf[self.start[i] : self.end[i]])


def _bulk_lines(lines: _Lines, found: Pieces) -> np.ndarray:
    """Parse every line sharing the shape of a scalar/system sample; returns the mask of lines done."""
    covered = np.zeros(len(lines.start), dtype=bool)
    pending = lines.count >= 2  # a step and at least one value
    for _ in range(_MAX_SAMPLES):
        if pending.sum() < _MIN_LINES:
            break
        i = int(np.argmax(pending))
        pending[i] = False
        sample = decode_line(lines.raw(i))
        template = _template(sample, int(lines.count[i]))
        if template is None:
            continue
        members = _same_shape(lines, i, pending)
        done = _take(lines, members, sample, template, found)
        covered[done] = True
        pending[done] = False
    return covered


def _template(sample: dict[str, Any] | None, k: int) -> tuple[str, list[int], list[str]] | None:
    """(kind, token positions, keys) of a scalar/system sample with `k` numeric tokens, or None.

    Token order follows the JSON text, which is the dict order json.loads keeps. Position 0 of the
    result is "step"; the rest are the numeric `values`.
    """
    if sample is None or sample.get("kind") not in SERIES_KINDS or type(sample.get("values")) is not dict:
        return None
    leaves: list[tuple[str, ...]] = []
    _numeric_leaves(sample, (), leaves)
    if len(leaves) != k or ("step",) not in leaves:
        return None
    positions, keys = [leaves.index(("step",))], ["step"]
    for j, path in enumerate(leaves):
        if len(path) == 2 and path[0] == "values":
            positions.append(j)
            keys.append(path[1])
    return str(sample["kind"]), positions, keys


def _numeric_leaves(obj: Any, path: tuple[str, ...], out: list[tuple[str, ...]]) -> None:
    """Paths of the values the tokenizer sees as numbers (numbers and "nan"/"inf" strings), in order."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            _numeric_leaves(v, path + (k,), out)
    elif isinstance(obj, list):
        for v in obj:
            _numeric_leaves(v, path + ("[]",), out)
    elif _is_number(obj) or (type(obj) is str and obj in _NONFINITE):
        out.append(path)


def _same_shape(lines: _Lines, i: int, pending: np.ndarray) -> np.ndarray:
    """Indices of line `i` and the pending lines whose bytes outside the numeric tokens equal line i's."""
    k = int(lines.count[i])
    cand = np.flatnonzero(pending & (lines.count == k))
    cand_first = lines.first[cand]
    for j in range(k + 1):
        s_i, e_i = _segment(lines, np.array([i]), np.array([lines.first[i]]), j, k)
        seg = lines.buf[int(s_i[0]) : int(e_i[0])]
        s, e = _segment(lines, cand, cand_first, j, k)
        ok = (e - s) == len(seg)
        for w in range(0, len(seg), 8):
            piece = seg[w : w + 8]
            mask = _U((1 << (8 * len(piece))) - 1)
            want = int.from_bytes(piece, "little")
            ok &= (lines.words[s + w] & mask) == _U(want)
        cand, cand_first = cand[ok], cand_first[ok]
    return np.concatenate(([i], cand))


def _segment(
    lines: _Lines, idx: np.ndarray, first: np.ndarray, j: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Byte ranges of skeleton segment `j` (of k+1) of lines `idx`: before token j, or after the last."""
    start = lines.start[idx] if j == 0 else lines.te[first + j - 1]
    end = lines.ts[first + j] if j < k else lines.end[idx]
    return start, end


def _take(
    lines: _Lines,
    members: np.ndarray,
    sample: dict[str, Any],
    template: tuple[str, list[int], list[str]],
    found: Pieces,
) -> np.ndarray:
    """Parse the template's tokens of `members`; returns the lines taken (all but unparsable ones)."""
    kind, positions, keys = template
    tok = (lines.first[members][:, None] + np.asarray(positions)[None, :]).ravel()
    values, ok = _parse_tokens(lines, tok)
    values, ok = values.reshape(len(members), -1), ok.reshape(len(members), -1).all(axis=1)
    if not ok[0] or not _matches_sample(values[0], sample, keys):
        return members[:0]
    members, values = members[ok], values[ok]
    for col, key in enumerate(keys[1:], start=1):
        found.setdefault((kind, key), []).append((members, values[:, 0], values[:, col]))
    return members


def _matches_sample(row: np.ndarray, sample: dict[str, Any], keys: list[str]) -> bool:
    """True when the parsed sample row equals what json decoded (so the template is right)."""
    expect = [sample["step"]] + [sample["values"][k] for k in keys[1:]]
    return all(
        _is_number(want) and (got == want or (math.isnan(got) and math.isnan(want)))
        for got, want in zip(row.tolist(), expect)
    )


# -- numbers --------------------------------------------------------------------------------------


def _parse_tokens(lines: _Lines, tok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, ok) of tokens `tok`, exactly as float() would parse them."""
    ts, te = lines.ts[tok], lines.te[tok]
    values = np.empty(len(tok))
    redo = np.empty(len(tok), dtype=bool)
    for a in range(0, len(tok), _BATCH):  # small batches keep every temporary in cache
        values[a : a + _BATCH], redo[a : a + _BATCH] = parse_numbers(
            lines.b, lines.words, ts[a : a + _BATCH], te[a : a + _BATCH]
        )
    redo |= lines.special[tok]
    ok = np.ones(len(tok), dtype=bool)
    for n in np.flatnonzero(redo).tolist():
        raw = bytes(lines.buf[ts[n] : te[n]])
        v = _SPECIAL.get(raw)
        if v is None and _JSON_NUMBER.fullmatch(raw):
            v = float(raw)
        if v is None:
            ok[n] = False
        else:
            values[n] = v
    return values, ok
