"""events.cols, the engine's binary index of events.jsonl: it must give exactly what decoding the JSON gives,
survive resumes and crashes, and never be trusted for an events.jsonl it does not describe."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from engine.core.protocol import EventWriter
from engine.core.protocol.columns import RECORD, columns_path
from tui.data import run_stream
from tui.data.event_columns import Chunk, decode_file
from tui.data.event_index import read_indexed
from tui.data.run_stream import RunStream


def write_mixed(events: Path, steps: range, flush_every: int = 40) -> None:
    """Every kind of line the engine writes, odd values included, over several flushes."""
    with EventWriter(events, flush_interval=3600) as w:
        w.emit("status", status="running", message="démarré ✓")
        for s in steps:
            w.scalar(s, {"loss/total": 1 / (s + 1), "loss/ce": math.nan if s % 17 == 0 else 0.5 + s,
                         "lr/head": np.float32(1e-3) * s, "grad_norm": math.inf if s == 3 else 1.0,
                         "flag": True, "note": "warm", "nested": {"a": 1}})
            if s % 10 == 0:
                w.system(s, {"img_per_s": 100.0 + s, "gpu_mem_alloc_mb": 12})
            if s % 25 == 0:
                w.emit("eval", step=s, split="val", metrics={"R@1": float(s), "R@5": math.nan})
                w.emit("scalar", step=s, values=[1, 2])  # not a mapping: an ordinary event for readers
            if s % flush_every == 0:
                w.flush()


def same(a: Chunk, b: Chunk) -> None:
    assert list(sorted(a.series)) == list(sorted(b.series))
    for key in a.series:
        assert np.array_equal(a.series[key][0], b.series[key][0]), key
        assert np.array_equal(a.series[key][1], b.series[key][1], equal_nan=True), key
    assert json.dumps(a.events) == json.dumps(b.events)  # NaN-aware: both print NaN
    assert (a.malformed, a.last_t) == (b.malformed, b.last_t)


def check(events: Path) -> int:
    """The index covers all of events.jsonl and matches the JSON decode; returns the records' count."""
    size = events.stat().st_size
    indexed = read_indexed(events, size)
    assert indexed is not None
    chunk, covered = indexed
    reference, used = decode_file(events, 0, size)
    assert covered == used == size
    same(chunk, reference)
    return columns_path(events).stat().st_size // RECORD.size


def test_the_index_gives_what_the_json_gives(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(200))
    assert check(events) > 200 * 4


def test_a_resumed_writer_continues_the_index(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(100))
    write_mixed(events, range(100, 180))
    check(events)


def test_a_crash_between_the_two_writes_is_caught_up_on_reopen(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(120))
    cols = columns_path(events)
    data = cols.read_bytes()
    os.truncate(cols, len(data) - 5 * RECORD.size - 7)  # the last batch lost, and a torn record
    assert read_indexed(events, events.stat().st_size)[1] < events.stat().st_size  # type: ignore[index]
    write_mixed(events, range(120, 150))
    check(events)


def test_a_run_from_before_the_index_is_indexed_on_resume(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(60))
    columns_path(events).unlink()
    with events.open("ab") as f:
        f.write(b'{"t":1,"seq":999,"kind":"sca')  # a torn line from a crash
    write_mixed(events, range(60, 90))
    assert read_indexed(events, events.stat().st_size)[0].malformed == 1  # type: ignore[index]
    check(events)


def test_a_rewritten_events_file_is_not_trusted(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(100))
    data = bytearray(events.read_bytes())
    size = len(data)
    data[-20] = ord("9") if data[-20] != ord("9") else ord("8")
    events.write_bytes(bytes(data))
    assert read_indexed(events, size) is None
    data = bytearray(events.read_bytes())
    events.write_bytes(b"{}" + bytes(data[2:]))
    assert read_indexed(events, size) is None


def test_only_the_prefix_the_file_holds_is_used(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(100))
    size = events.stat().st_size
    chunk, covered = read_indexed(events, size - 1)  # type: ignore[misc]
    assert covered < size
    reference, _ = decode_file(events, 0, covered)
    same(chunk, reference)
    assert read_indexed(events, 10) is None  # not even the first batch


def test_the_index_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(10))
    monkeypatch.setenv("LABCONSOLE_EVENT_INDEX", "off")
    assert read_indexed(events, events.stat().st_size) is None
    with EventWriter(tmp_path / "other.jsonl", index=False) as w:
        w.scalar(1, {"loss/total": 1.0})
    assert not columns_path(tmp_path / "other.jsonl").exists()


def test_the_monitor_stream_reads_the_same_run_with_and_without_the_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_stream, "BULK_BYTES", 1)
    monkeypatch.setenv("LABCONSOLE_SERIES_CACHE", "off")
    run = tmp_path / "run"
    run.mkdir()
    write_mixed(run / "events.jsonl", range(300))

    def state() -> tuple:
        stream = RunStream(run)
        stream.poll()
        snap = stream.snapshot()
        return ({k: (x.tolist(), y.tolist()) for k, (x, y) in snap.scalars.items()},
                {k: [(p.step, json.dumps(p.metrics)) for p in v] for k, v in stream.evals.items()},
                stream.last_step, [m.label for m in snap.markers])

    indexed = state()
    monkeypatch.setenv("LABCONSOLE_EVENT_INDEX", "off")
    assert json.dumps(indexed) == json.dumps(state())


def test_indexing_stops_when_another_process_appends(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    with EventWriter(events, flush_interval=3600) as w:
        w.scalar(0, {"loss/total": 1.0})
        w.flush()
        with events.open("a") as other:  # e.g. a status line from the CLI while the engine runs
            other.write('{"t":1,"kind":"status","status":"stopped"}\n')
        w.scalar(1, {"loss/total": 0.5})
    chunk, covered = read_indexed(events, events.stat().st_size)  # type: ignore[misc]
    assert covered < events.stat().st_size  # the index stops before the foreign line
    rest, _ = decode_file(events, covered, events.stat().st_size)
    assert rest.series[("scalar", "loss/total")][1].tolist() == [0.5] and rest.events[0]["status"] == "stopped"
