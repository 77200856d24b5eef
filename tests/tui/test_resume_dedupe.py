"""A run killed after its last checkpoint and resumed writes the steps since the checkpoint again: every reader
keeps the records written after the `resume` marker for those steps (curves never go back: 25 → 21)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.core.protocol import EventWriter
from engine.core.protocol.columns import columns_path
from tui.data.compare_runs import load_run
from tui.data.run_events import read_events
from tui.data.run_stream import RunStream

CHECKPOINT, KILLED, END = 20, 25, 30
BEFORE, AFTER = 0.0, 1000.0  # value offsets of the killed process and of the resumed one


def _loss(step: int, offset: float) -> float:
    return offset + step


def killed_run() -> list[tuple[str, int | None, dict[str, Any]]]:
    """(kind, step, fields) of the killed process: scalars, system gauges and evals up to step 25."""
    events: list[tuple[str, int | None, dict[str, Any]]] = [("status", None, {"status": "running"})]
    for step in range(KILLED + 1):
        events.append(("scalar", step, {"values": {"loss/total": _loss(step, BEFORE), "lr/head": 0.1}}))
        if step % 2 == 0:
            events.append(("system", step, {"values": {"img_per_s": _loss(step, BEFORE)}}))
        if step % 4 == 0:
            events.append(("eval", step, {"split": "val", "metrics": {"R@1": _loss(step, BEFORE)}}))
    return events


def resumed_run() -> list[tuple[str, int | None, dict[str, Any]]]:
    """The resumed process: the marker at the checkpoint's step, then steps 21..30 again and on."""
    events: list[tuple[str, int | None, dict[str, Any]]] = [
        ("status", None, {"status": "running"}),
        ("resume", CHECKPOINT, {"message": f"resumed from step {CHECKPOINT}"}),
    ]
    for step in range(CHECKPOINT + 1, END + 1):
        events.append(("scalar", step, {"values": {"loss/total": _loss(step, AFTER), "lr/head": 0.1}}))
        if step % 2 == 0:
            events.append(("system", step, {"values": {"img_per_s": _loss(step, AFTER)}}))
        if step % 4 == 0:
            events.append(("eval", step, {"split": "val", "metrics": {"R@1": _loss(step, AFTER)}}))
    return events


def write_json_lines(path: Path, events: list[tuple[str, int | None, dict[str, Any]]]) -> None:
    """Lines as another tool (or an engine from before the index) would write them: no events.cols."""
    with open(path, "a") as f:
        for kind, step, fields in events:
            head = {"t": 1.0, "kind": kind, **({"step": step} if step is not None else {})}
            f.write(json.dumps({**head, **fields}) + "\n")


def write_with_engine_writer(path: Path, events: list[tuple[str, int | None, dict[str, Any]]]) -> None:
    """One engine process's EventWriter (so events.cols indexes the file), flushing every few lines."""
    with EventWriter(path, flush_interval=3600) as writer:
        for i, (kind, step, fields) in enumerate(events):
            writer.emit(kind, step=step, **fields)
            if i % 7 == 0:
                writer.flush()


def expected(step: int) -> float:
    """The value a reader must show at `step`: the resumed process's from the checkpoint on."""
    return _loss(step, AFTER if step > CHECKPOINT else BEFORE)


def assert_deduplicated(steps: np.ndarray, values: np.ndarray, every: int = 1) -> None:
    assert np.all(np.diff(steps) > 0), f"steps go back: {steps.tolist()}"
    assert steps.tolist() == [float(s) for s in range(0, END + 1, every)]
    assert values.tolist() == [expected(int(s)) for s in steps]


def assert_series(series: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]) -> None:
    assert_deduplicated(*series[("scalar", "loss/total")])
    assert_deduplicated(*series[("system", "img_per_s")], every=2)
    steps, _ = series[("scalar", "lr/head")]
    assert np.all(np.diff(steps) > 0) and len(steps) == END + 1


def eval_series(events: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    evals = [ev for ev in events if ev.get("kind") == "eval"]
    return np.array([ev["step"] for ev in evals], float), np.array([ev["metrics"]["R@1"] for ev in evals])


Writer = Callable[[Path, list[tuple[str, int | None, dict[str, Any]]]], None]


@pytest.mark.parametrize("write", [write_json_lines, write_with_engine_writer], ids=["json", "index"])
def test_a_whole_file_keeps_the_latest_record_per_step(tmp_path: Path, write: Writer) -> None:
    events = tmp_path / "events.jsonl"
    write(events, killed_run())
    write(events, resumed_run())
    assert columns_path(events).exists() == (write is write_with_engine_writer)

    chunk, _ = read_events(events)

    assert_series(chunk.series)
    assert_deduplicated(*eval_series(chunk.events), every=4)
    assert chunk.resumed_from == CHECKPOINT
    assert [ev["step"] for ev in chunk.events if ev["kind"] == "resume"] == [CHECKPOINT]


def test_an_index_covering_part_of_the_file_and_json_after_it(tmp_path: Path) -> None:
    """The killed process indexed its lines, the resumed one's are read as JSON (a tool appended them)."""
    events = tmp_path / "events.jsonl"
    write_with_engine_writer(events, killed_run())
    write_json_lines(events, resumed_run())
    chunk, _ = read_events(events)
    assert_series(chunk.series)
    assert_deduplicated(*eval_series(chunk.events), every=4)


def test_two_resumes_each_drop_what_they_redo(tmp_path: Path) -> None:
    """Killed at 25, resumed from 20; killed again at 23, resumed from 10: from 11 on, the last process wins."""
    events = tmp_path / "events.jsonl"
    write_with_engine_writer(events, killed_run())
    second = [e for e in resumed_run() if e[1] is None or e[1] <= 23]
    write_with_engine_writer(events, second)
    third = [("resume", 10, {})] + [
        ("scalar", s, {"values": {"loss/total": 5000.0 + s}}) for s in range(11, 31)
    ]
    write_with_engine_writer(events, third)

    steps, values = read_events(events)[0].series[("scalar", "loss/total")]

    assert steps.tolist() == list(range(31))
    assert values.tolist() == [float(s) for s in range(11)] + [5000.0 + s for s in range(11, 31)]


def test_a_run_without_resume_markers_is_left_alone(tmp_path: Path) -> None:
    """Readers never guess from steps alone: only a marker drops anything."""
    events = tmp_path / "events.jsonl"
    write_json_lines(events, [("scalar", s, {"values": {"x": float(i)}}) for i, s in enumerate([0, 5, 3, 3])])
    chunk, _ = read_events(events)
    assert chunk.series[("scalar", "x")][0].tolist() == [0, 5, 3, 3] and chunk.resumed_from is None


@pytest.mark.parametrize("write", [write_json_lines, write_with_engine_writer], ids=["json", "index"])
@pytest.mark.parametrize("cut", ["before the marker", "just after the marker", "mid-way"])
def test_live_tailing_drops_what_the_resume_redoes(tmp_path: Path, write: Writer, cut: str) -> None:
    """The monitor follows the file as it grows; the marker may arrive in a later read than the redone steps."""
    run = tmp_path / "run"
    run.mkdir()
    events = run / "events.jsonl"
    later = resumed_run()
    split = {"before the marker": 0, "just after the marker": 2, "mid-way": 9}[cut]
    stream = RunStream(run)
    write(events, killed_run())
    stream.poll()
    first = stream.snapshot()
    assert first.scalars["loss/total"][0][-1] == KILLED

    write(events, later[:split])
    stream.poll()
    write(events, later[split:])
    stream.poll()

    snap = stream.snapshot()
    assert_deduplicated(*snap.scalars["loss/total"])
    assert_deduplicated(*snap.system["img_per_s"], every=2)
    val = snap.evals["val"]
    assert_deduplicated(
        np.array([p.step for p in val], float), np.array([p.metrics["R@1"] for p in val]), every=4
    )
    assert snap.step == END
    assert first.scalars["loss/total"][0][-1] == KILLED  # a snapshot taken before keeps what it showed


def test_the_stream_step_goes_back_with_the_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    write_with_engine_writer(run / "events.jsonl", killed_run())
    stream = RunStream(run)
    stream.poll()
    write_with_engine_writer(run / "events.jsonl", resumed_run()[:3])  # the marker and step 21
    stream.poll()
    assert stream.snapshot().step == CHECKPOINT + 1


def test_compare_reads_the_deduplicated_curves(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    write_with_engine_writer(run / "events.jsonl", killed_run())
    write_with_engine_writer(run / "events.jsonl", resumed_run())
    loaded = load_run(run)
    assert_deduplicated(*loaded.scalars["loss/total"])
    assert_deduplicated(*loaded.evals[("val", "R@1")], every=4)
