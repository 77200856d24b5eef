"""How the console reads events.jsonl: the engine's index (events.cols) for the prefix it covers, EventReader
for the rest. The index must give exactly what reading the JSON line by line gives, survive resumes and
crashes, and never be trusted for an events.jsonl it does not describe."""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.core.protocol import EventReader, EventWriter
from engine.core.protocol.columns import RECORD, columns_path, read_index
from tui.data import run_events
from tui.data.run_events import Chunk, read_events
from tui.data.run_stream import RunStream


def write_mixed(events: Path, steps: range, flush_every: int = 40) -> None:
    """Every kind of line the engine writes, odd values included, over several flushes."""
    with EventWriter(events, flush_interval=3600) as w:
        w.emit("status", status="running", message="démarré ✓")
        for s in steps:
            w.scalar(
                s,
                {
                    "loss/total": 1 / (s + 1),
                    "loss/ce": math.nan if s % 17 == 0 else 0.5 + s,
                    "lr/head": np.float32(1e-3) * s,
                    "grad_norm": math.inf if s == 3 else 1.0,
                    "flag": True,
                    "note": "warm",
                    "nested": {"a": 1},
                },
            )
            if s % 10 == 0:
                w.system(s, {"img_per_s": 100.0 + s, "gpu_mem_alloc_mb": 12})
            if s % 25 == 0:
                w.emit("eval", step=s, split="val", metrics={"R@1": float(s), "R@5": math.nan})
                w.emit("scalar", step=s, values=[1, 2])  # not a mapping: an ordinary event for readers
            if s % flush_every == 0:
                w.flush()


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Where each EventReader the console creates starts reading (the bytes the index covered)."""
    offsets: list[int] = []

    class Spy(EventReader):
        def __init__(self, path: Any, offset: int = 0) -> None:
            offsets.append(offset)
            super().__init__(path, offset)

    monkeypatch.setattr(run_events, "EventReader", Spy)
    return offsets


def read(events: Path, indexed: bool, monkeypatch: pytest.MonkeyPatch) -> Chunk:
    """The whole file as the console reads it, with or without the index."""
    monkeypatch.setenv("LABCONSOLE_EVENT_INDEX", "on" if indexed else "off")
    return read_events(events)[0]


def same(a: Chunk, b: Chunk) -> None:
    assert list(a.series) == list(b.series)
    for key in a.series:
        assert a.series[key][0].dtype == a.series[key][1].dtype == np.float64
        assert np.array_equal(a.series[key][0], b.series[key][0]), key
        assert np.array_equal(a.series[key][1], b.series[key][1], equal_nan=True), key
    assert json.dumps(a.events) == json.dumps(b.events)  # NaN-aware: both print NaN
    assert (a.malformed, a.last_t) == (b.malformed, b.last_t)


def check(events: Path, monkeypatch: pytest.MonkeyPatch, starts: list[int]) -> int:
    """The index covers all of events.jsonl and gives what the JSON gives; returns the records' count."""
    size = events.stat().st_size
    index = read_index(events)
    assert index is not None and index.covered == size
    indexed = read(events, True, monkeypatch)
    assert starts[-1] == size  # nothing left for the line-by-line reader
    same(indexed, read(events, False, monkeypatch))
    return columns_path(events).stat().st_size // RECORD.size


def test_the_index_gives_what_the_json_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts: list[int]
) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(200))
    assert check(events, monkeypatch, starts) > 200 * 4


def test_a_resumed_writer_continues_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts: list[int]
) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(100))
    write_mixed(events, range(100, 180))
    check(events, monkeypatch, starts)


def test_a_crash_between_the_two_writes_is_caught_up_on_reopen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts: list[int]
) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(120))
    cols = columns_path(events)
    data = cols.read_bytes()
    os.truncate(cols, len(data) - 5 * RECORD.size - 7)  # the last batch lost, and a torn record
    covered = read_index(events).covered  # type: ignore[union-attr]
    assert covered < events.stat().st_size
    same(read(events, True, monkeypatch), read(events, False, monkeypatch))  # the rest read line by line
    assert starts[0] == covered
    write_mixed(events, range(120, 150))
    check(events, monkeypatch, starts)


def test_a_run_from_before_the_index_is_indexed_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts: list[int]
) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(60))
    columns_path(events).unlink()
    with events.open("ab") as f:
        f.write(b'{"t":1,"seq":999,"kind":"sca')  # a torn line from a crash
    write_mixed(events, range(60, 90))
    assert read(events, True, monkeypatch).malformed == 1
    check(events, monkeypatch, starts)


def test_a_rewritten_events_file_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts: list[int]
) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(100))
    data = bytearray(events.read_bytes())
    data[-20] = ord("9") if data[-20] != ord("9") else ord("8")
    events.write_bytes(bytes(data))
    assert read_index(events) is None
    data = bytearray(events.read_bytes())
    events.write_bytes(b"{}" + bytes(data[2:]))
    assert read_index(events) is None
    same(read(events, True, monkeypatch), read(events, False, monkeypatch))
    assert starts == [0, 0]


def test_only_the_prefix_the_file_holds_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts: list[int]
) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(100))
    size = events.stat().st_size
    os.truncate(events, size - 1)  # the index describes more than the file now holds
    covered = read_index(events).covered  # type: ignore[union-attr]
    assert 0 < covered < size - 1
    chunk = read(events, True, monkeypatch)
    assert starts == [covered]
    same(chunk, read(events, False, monkeypatch))
    os.truncate(events, 10)
    assert read_index(events) is None  # not even the first batch


def test_the_index_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts: list[int]
) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(10))
    read(events, False, monkeypatch)
    assert starts == [0]
    with EventWriter(tmp_path / "other.jsonl", index=False) as w:
        w.scalar(1, {"loss/total": 1.0})
    assert not columns_path(tmp_path / "other.jsonl").exists()


def test_a_missing_file_reads_as_empty(tmp_path: Path) -> None:
    chunk, reader = read_events(tmp_path / "events.jsonl")
    assert chunk == Chunk() and reader.offset == 0


def test_points_at_an_odd_step_are_read_from_the_json_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts: list[int]
) -> None:
    events = tmp_path / "events.jsonl"
    lines = [
        {"t": 1.0, "seq": i, "kind": "scalar", "step": step, "values": {"loss/total": float(i)}}
        for i, step in enumerate([1, 1.5, 2, 2**33, 3])
    ]
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    EventWriter(events).close()  # a resume indexes the existing lines (odd steps as other lines)
    assert read_index(events).covered == events.stat().st_size  # type: ignore[union-attr]
    chunk = read(events, True, monkeypatch)
    assert starts == [0]  # the index could not keep file order: all of it read line by line
    assert chunk.series[("scalar", "loss/total")][0].tolist() == [1, 1.5, 2, 2**33, 3]


@pytest.mark.parametrize("seed", range(4))
def test_an_index_caught_up_from_any_json_gives_what_the_json_gives(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts: list[int]
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(messy_lines(seed, 3000))
    EventWriter(events).close()  # resuming a run from before the index indexes its lines from their JSON
    check(events, monkeypatch, starts)


def test_the_monitor_stream_reads_the_same_run_with_and_without_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    write_mixed(run / "events.jsonl", range(300))

    def state() -> tuple:
        stream = RunStream(run)
        stream.poll()
        snap = stream.snapshot()
        return (
            {k: (x.tolist(), y.tolist()) for k, (x, y) in snap.scalars.items()},
            {k: [(p.step, json.dumps(p.metrics)) for p in v] for k, v in stream.evals.items()},
            stream.last_step,
            stream.last_event_t,
            [m.label for m in snap.markers],
        )

    indexed = state()
    monkeypatch.setenv("LABCONSOLE_EVENT_INDEX", "off")
    assert json.dumps(indexed) == json.dumps(state())


def test_indexing_stops_when_another_process_appends(tmp_path: Path, starts: list[int]) -> None:
    events = tmp_path / "events.jsonl"
    with EventWriter(events, flush_interval=3600) as w:
        w.scalar(0, {"loss/total": 1.0})
        w.flush()
        with events.open("a") as other:  # e.g. a status line from the CLI while the engine runs
            other.write('{"t":1,"kind":"status","status":"stopped"}\n')
        w.scalar(1, {"loss/total": 0.5})
    covered = read_index(events).covered  # type: ignore[union-attr]
    assert covered < events.stat().st_size  # the index stops before the foreign line
    chunk, _ = read_events(events)
    assert starts == [covered]
    assert (
        chunk.series[("scalar", "loss/total")][1].tolist() == [1.0, 0.5]
        and chunk.events[0]["status"] == "stopped"
    )


def test_following_reads_only_what_was_appended(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_mixed(events, range(50))
    _, reader = read_events(events)
    size = events.stat().st_size
    with events.open("ab") as f:
        f.write(
            b'{"t":7,"seq":1,"kind":"scalar","step":50,"values":{"loss/total":"nan"}}\ngarbage\n{"t":8,"ki'
        )
    more, same_reader = read_events(events, reader)
    assert same_reader is reader and reader.offset > size
    assert more.series[("scalar", "loss/total")][0].tolist() == [50]
    assert math.isnan(more.series[("scalar", "loss/total")][1][0])
    assert (more.malformed, more.last_t, more.events) == (1, 7.0, [])
    assert read_events(events, reader)[0] == Chunk()  # the torn line waits for its end


# -- JSON as other tools write it ---------------------------------------------------------------------


def random_number(rng: random.Random) -> Any:
    """Floats and ints the way engines produce them, plus the odd corner case."""
    return rng.choice(
        [
            rng.random(),
            rng.uniform(-1e6, 1e6),
            10 ** rng.uniform(-12, 12),
            rng.randint(0, 10**9),
            -rng.random(),
            1e-5 * rng.random(),
            0.1 + 0.2,
            0,
            -0.0,
            1e300 * rng.random(),
            5e-324,
            123456789012345678,
            rng.choice(["nan", "inf", "-inf"]),
            round(rng.random(), 3),
        ]
    )


def messy_lines(seed: int, n: int) -> bytes:
    """A mixed events file: several scalar/system shapes, other kinds, separators, junk and corner cases."""
    rng = random.Random(seed)
    shapes = [
        ["loss/total", "loss/ce", "lr/backbone", "grad_norm"],
        ["loss/total", "loss/dice", "lr/head"],
        ["img_per_s", "rss_mb", "gpu_mem_alloc_mb"],
        ["lr/group_0_backbone", "lr/group_1_backbone"],
        ["loss/λ-ünïcode", "R@1"],
    ]
    compact, spaced = json.JSONEncoder(separators=(",", ":")), json.JSONEncoder()
    out = []
    for i in range(n):
        enc = compact if rng.random() < 0.8 else spaced
        r = rng.random()
        if r < 0.7:
            keys = shapes[0] if rng.random() < 0.7 else rng.choice(shapes)
            kind = "system" if keys is shapes[2] else "scalar"
            rec: dict[str, Any] = {
                "t": 1.7e9 + i * 0.1,
                "seq": i,
                "kind": kind,
                "step": i // 2,
                "values": {k: random_number(rng) for k in keys},
            }
            if rng.random() < 0.05:
                rec["values"]["flag"] = rng.choice([True, None, "text", [1, 2], {"a": 1}])
            if rng.random() < 0.03:
                del rec["step"]
            if rng.random() < 0.03:
                rec["epoch"] = rng.randint(0, 9)
            out.append(enc.encode(rec))
        elif r < 0.8:
            out.append(
                enc.encode(
                    {
                        "t": 1.7e9,
                        "seq": i,
                        "kind": "eval",
                        "step": i,
                        "split": "tokyo",
                        "metrics": {"R@1": rng.random() * 100, "R@5": "nan"},
                    }
                )
            )
        elif r < 0.85:
            out.append(
                enc.encode(
                    {
                        "t": 1.7e9,
                        "seq": i,
                        "kind": "alert",
                        "level": "error",
                        "code": "nan",
                        "message": "loss: nan, at step 5 {x}",
                    }
                )
            )
        elif r < 0.9:
            out.append(
                enc.encode(
                    {
                        "t": 1.7e9,
                        "seq": i,
                        "kind": "control",
                        "step": i,
                        "id": "c:1",
                        "action": "set",
                        "values": {"optim.lr": 1e-4},
                        "status": "applied",
                    }
                )
            )
        else:
            out.append(
                rng.choice(
                    [
                        "",
                        "   ",
                        "garbage",
                        "[1, 2]",
                        '{"t": 1, "kind": "scalar", "step": 3, "values": {"loss/total": 1.2.3}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":01}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":1e}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":-}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":1',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":NaN,"loss/ce":-Infinity}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":1,"loss/total":2}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":1E+2,"loss/ce":-0.5e-3}}',
                    ]
                )
            )
    return ("\n".join(out) + "\n").encode()
