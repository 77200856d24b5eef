"""Tests for events.jsonl: writer → reader round trips, torn and malformed lines, live following."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path

import pytest

from engine.core.protocol import EventReader, EventWriter, iter_events


def test_round_trip_with_non_finite_floats(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as w:
        w.scalar(1, {"loss/total": 0.5, "loss/ce": math.nan, "lr/backbone": math.inf, "grad_norm": -math.inf})
        w.system(1, {"img_per_s": 40.0})
        w.emit("eval", step=2, split="val", metrics={"R@1": 81.5, "R@5": math.nan})
        w.emit("status", status="running")
    for line in path.read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    events = EventReader(path).read_new()
    assert [e["kind"] for e in events] == ["scalar", "system", "eval", "status"]
    assert [e["seq"] for e in events] == [0, 1, 2, 3]
    values = events[0]["values"]
    assert values["loss/total"] == 0.5 and math.isnan(values["loss/ce"])
    assert values["lr/backbone"] == math.inf and values["grad_norm"] == -math.inf
    assert events[0]["step"] == 1 and isinstance(events[0]["t"], float)
    assert "step" not in events[3] and events[3]["status"] == "running"
    assert events[2]["split"] == "val" and math.isnan(events[2]["metrics"]["R@5"])


def test_values_are_copied_at_call_time(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as w:
        values = {"loss": 1.0}
        w.scalar(0, values)
        values["loss"] = 2.0
    assert EventReader(path).read_new()[0]["values"] == {"loss": 1.0}


def test_reserved_keys_cannot_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as w:
        w.emit("alert", step=3, t="bogus", seq=-5, message="hi")
    (event,) = EventReader(path).read_new()
    assert isinstance(event["t"], float) and event["seq"] == 0 and event["message"] == "hi"


class _FakeTensor:
    """Stands in for a 0-dim tensor or numpy scalar: not JSON-serialisable, has tolist()."""

    def __init__(self, value: float) -> None:
        self.value = value

    def tolist(self) -> float:
        return self.value


def test_array_like_values_are_converted(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as w:
        w.scalar(0, {"loss": _FakeTensor(0.25), "bad": _FakeTensor(math.nan)})  # type: ignore[dict-item]
        w.emit("alert", message=object())
    first, second = EventReader(path).read_new()
    assert first["values"]["loss"] == 0.25 and math.isnan(first["values"]["bad"])
    assert second["message"].startswith("<object")


def test_torn_last_line_is_read_when_completed(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    line = json.dumps({"t": 1.0, "seq": 0, "kind": "scalar", "step": 1, "values": {"a": 1}}) + "\n"
    path.write_text(line + line[:20])
    reader = EventReader(path)
    assert len(reader.read_new()) == 1
    assert reader.offset == len(line)
    assert reader.read_new() == []
    with open(path, "a") as f:
        f.write(line[20:])
    (event,) = reader.read_new()
    assert event["values"] == {"a": 1} and reader.malformed == 0


def test_malformed_middle_line_is_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.jsonl"
    good = json.dumps({"t": 1.0, "kind": "status"})
    path.write_text(f"{good}\n{{broken\n\n[1, 2]\n{good}\n")
    reader = EventReader(path)
    with caplog.at_level(logging.WARNING):
        events = reader.read_new()
    assert len(events) == 2 and reader.malformed == 2
    assert sum("malformed line" in r.message for r in caplog.records) == 2
    assert "line 2" in caplog.records[0].getMessage()
    assert [e["kind"] for e in iter_events(path)] == ["status", "status"]


def test_missing_file_reads_nothing(tmp_path: Path) -> None:
    reader = EventReader(tmp_path / "nope.jsonl")
    assert reader.read_new() == [] and reader.offset == 0
    assert list(iter_events(tmp_path / "nope.jsonl")) == []


def test_start_offset_and_iter_events_unterminated_tail(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    first = json.dumps({"t": 1.0, "kind": "a"}) + "\n"
    path.write_text(first + json.dumps({"t": 2.0, "kind": "b"}))  # complete JSON, no newline
    assert [e["kind"] for e in iter_events(path)] == ["a", "b"]
    assert EventReader(path, offset=len(first)).read_new() == []


def test_writer_flushes_without_explicit_flush(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    w = EventWriter(path, flush_interval=0.2)
    try:
        w.scalar(0, {"loss": 1.0})
        reader = EventReader(path)
        deadline = time.monotonic() + 1.0
        events: list[dict] = []
        while not events and time.monotonic() < deadline:
            time.sleep(0.02)
            events = reader.read_new()
        assert len(events) == 1
    finally:
        w.close()


def test_default_interval_flushes_within_a_second(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as w:
        w.emit("status", status="running")
        time.sleep(1.0)
        assert len(EventReader(path).read_new()) == 1


def test_close_flushes_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    w = EventWriter(path, flush_interval=60)
    for step in range(100):
        w.scalar(step, {"loss": float(step)})
    w.close()
    w.close()
    assert [e["step"] for e in iter_events(path)] == list(range(100))
    with pytest.raises(ValueError, match="closed"):
        w.scalar(100, {"loss": 0.0})


def test_flush_is_synchronous(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventWriter(path, flush_interval=60) as w:
        w.emit("checkpoint", step=5, path="last.pt")
        w.flush()
        assert EventReader(path).read_new()[0]["path"] == "last.pt"


def test_reopened_file_continues_seq_after_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as w:
        w.emit("status", status="running")
        w.emit("status", status="stopped")
    with open(path, "a") as f:
        f.write('{"t": 3.0, "kind": "scal')  # the engine died mid-line
    with EventWriter(path) as w:
        w.emit("status", status="running")
    reader = EventReader(path)
    events = reader.read_new()
    assert [e["seq"] for e in events] == [0, 1, 2]
    assert reader.malformed == 1


def test_many_producers_keep_order_per_thread(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventWriter(path, flush_interval=0.05) as w:

        def produce(tid: int) -> None:
            for i in range(2000):
                w.emit("x", step=i, tid=tid)

        threads = [threading.Thread(target=produce, args=(tid,)) for tid in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    events = list(iter_events(path))
    assert [e["seq"] for e in events] == list(range(8000))
    for tid in range(4):
        assert [e["step"] for e in events if e["tid"] == tid] == list(range(2000))


def test_reader_follows_live_writer(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    total = 20_000
    batches: list[list[dict]] = []
    done = threading.Event()

    def follow() -> None:
        reader = EventReader(path)
        while True:
            finished = done.is_set()  # checked before reading: all was flushed before it was set
            batch = reader.read_new()
            if batch:
                batches.append(batch)
            elif finished:
                break
            else:
                time.sleep(0.005)
        assert reader.malformed == 0

    def write() -> None:
        with EventWriter(path, flush_interval=0.01) as w:
            for step in range(total):
                w.scalar(step, {"loss": step / 2})
                if step % 1000 == 0:
                    time.sleep(0.005)  # let the background thread write mid-stream
        done.set()

    follower = threading.Thread(target=follow)
    writer = threading.Thread(target=write)
    follower.start()
    writer.start()
    writer.join()
    follower.join(timeout=30)
    received = [e for batch in batches for e in batch]
    assert [e["step"] for e in received] == list(range(total))
    assert [e["seq"] for e in received] == list(range(total))
    assert len(batches) > 1  # it really followed, not one read at the end
