"""Numbers the trainer writes that readers must be able to trust: the last step, training time and img/s."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import engine.trainer
from engine.core.protocol import iter_events, read_json, send_control
from tests.engine.test_trainer import train
from tui.data.run_index import RunIndex
from tui.data.run_stream import RunStream
from tui.data.summary_cache import SummaryCache
from tui.widgets.run_header import header_lines

STEERED_EVAL_SECONDS = 1000.0
"""What a steered evaluation appears to take (a fake clock): far more than the whole tiny run."""


def run_folder(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "runs").iterdir()
    return folder


def on_batch(task: Any, number: int, action: Any) -> None:
    """Call `action()` when the task hands out its `number`-th training batch."""
    original, calls = task.next_batch, []

    def next_batch():  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == number:
            action()
        return original()

    task.next_batch = next_batch


def test_a_stopped_run_records_its_last_step_in_run_json(tmp_path: Path, tiny_city: Path) -> None:
    """The runs table reads run.json progress, the monitor the events: a stop between logs must not split them."""
    stop = lambda: send_control(run_folder(tmp_path) / "control.jsonl", "stop")  # noqa: E731
    run_dir, status = train(
        tmp_path, tiny_city, "train.log_every=100", steps=8, patch=lambda task: on_batch(task, 5, stop)
    )
    assert status == "stopped"
    last_event_step = max(e["step"] for e in iter_events(run_dir / "events.jsonl") if "step" in e)
    progress = read_json(run_dir / "run.json")["progress"]
    assert progress["step"] == last_event_step == 5
    assert isinstance(progress["epoch"], float) and progress["epoch"] > 0
    # the runs table and the monitor, each reading its own file, show the same last step and epoch
    (row,) = RunIndex(run_dir.parent, SummaryCache(tmp_path / "summaries.json")).refresh().rows.values()
    stream = RunStream(run_dir)
    stream.poll()
    snapshot = stream.snapshot()
    assert (row.step, row.max_steps) == (snapshot.step, snapshot.max_steps) == (5, 8)
    assert f"epoch {progress['epoch']:.1f}" in header_lines(snapshot)[1].plain


def test_steered_evaluation_time_is_not_training_time(
    tmp_path: Path, tiny_city: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An evaluation asked for mid-window is left out of the window's img/s and of run.json train_seconds."""
    clock = FakeClock()
    monkeypatch.setattr(engine.trainer, "time", clock)

    def patch(task: Any) -> None:
        asked: list[bool] = []
        on_batch(
            task,
            2,
            lambda: (asked.append(True), send_control(run_folder(tmp_path) / "control.jsonl", "eval")),
        )
        original = task.evaluate

        def evaluate():  # type: ignore[no-untyped-def]
            if asked:
                asked.clear()
                clock.offset += STEERED_EVAL_SECONDS
            return original()

        task.evaluate = evaluate

    run_dir, status = train(tmp_path, tiny_city, "train.log_every=4", steps=4, patch=patch)
    assert status == "completed" and clock.offset == STEERED_EVAL_SECONDS  # the steered evaluation ran
    events = list(iter_events(run_dir / "events.jsonl"))
    (system,) = [e for e in events if e["kind"] == "system"]
    info = read_json(run_dir / "run.json")
    assert 0 < info["train_seconds"] < STEERED_EVAL_SECONDS / 10
    images = info["progress"]["step"] * 8  # 4 places × 2 images per step
    assert images / system["values"]["img_per_s"] == pytest.approx(info["train_seconds"], abs=0.006)


class FakeClock:
    """The `time` module with perf_counter moved on by `offset` (a steered evaluation that takes long)."""

    offset = 0.0

    def perf_counter(self) -> float:
        return time.perf_counter() + self.offset

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)
