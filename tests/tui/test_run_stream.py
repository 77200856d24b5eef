"""RunStream: incremental reads, alerts, markers, log tail."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from engine.core.protocol import EventWriter
from tests.tui.fixtures import FROZEN_NOW, frozen_clock, make_run, write_run_json
from tui.data import run_stream
from tui.data.run_stream import RunStream

# -- RunStream ---------------------------------------------------------------------------------------


def new_run(tmp_path: Path, status: str = "running", **info: Any) -> Path:
    """An empty run folder with a run.json (a remote host, so a live status is trusted)."""
    folder = tmp_path / "runs" / "r1"
    folder.mkdir(parents=True)
    base = {
        "id": "r1",
        "name": "r1",
        "status": status,
        "created": FROZEN_NOW - 100,
        "started": FROZEN_NOW - 100,
        "host": "elsewhere",
        "pid": 4242,
        "progress": {"step": 0, "max_steps": 1000, "epoch": 0},
    }
    base.update(info)
    write_run_json(folder, base)
    return folder


def write_scalars(folder: Path, steps: range, **extra: float) -> None:
    """Append scalar events through the engine's writer."""
    with EventWriter(folder / "events.jsonl") as w:
        for s in steps:
            w.scalar(s, {"loss/total": 1.0 / (s + 1), "lr/backbone": 1e-4, **extra})


def test_poll_reads_only_what_was_appended(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    write_scalars(folder, range(10))
    stream = RunStream(folder, clock=frozen_clock)
    assert stream.poll()
    assert stream.scalars["loss/total"].n == 10
    assert not stream.poll()  # nothing new
    write_scalars(folder, range(10, 15))
    assert stream.poll()
    assert stream.scalars["loss/total"].x.tolist() == list(range(15))


def test_torn_last_line_waits_for_its_end(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    events = folder / "events.jsonl"
    events.write_text(
        '{"t":1,"seq":0,"kind":"scalar","step":1,"values":{"loss/total":0.5}}\n{"t":2,"seq":1,"ki'
    )
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    assert stream.scalars["loss/total"].n == 1
    with events.open("a") as f:
        f.write('nd":"scalar","step":2,"values":{"loss/total":0.25}}\n')
    stream.poll()
    assert stream.scalars["loss/total"].y.tolist() == [0.5, 0.25]
    assert stream.malformed == 0


@pytest.mark.parametrize("indexed", [True, False])
def test_a_run_reads_as_its_json_with_and_without_the_index(tmp_path: Path, indexed: bool) -> None:
    folder = make_run(tmp_path / "runs", "agree", "completed", max_steps=2000, scalar_every=5)
    if indexed:
        EventWriter(folder / "events.jsonl").close()  # a resume indexes the fixture's lines
    assert (folder / "events.cols").exists() == indexed
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    scalars = [e for e in events if e["kind"] == "scalar"]
    assert stream.scalars["loss/total"].y.tolist() == [e["values"]["loss/total"] for e in scalars]
    assert len(stream.evals["pitts30k"]) == sum(
        e["kind"] == "eval" and e["split"] == "pitts30k" for e in events
    )
    assert stream.system["img_per_s"].n == sum(e["kind"] == "system" for e in events)


def test_run_json_is_reread_only_when_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = new_run(tmp_path)
    reads: list[Path] = []
    real = run_stream.read_run_info
    monkeypatch.setattr(run_stream, "read_run_info", lambda p: reads.append(p) or real(p))
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    stream.poll()
    assert len(reads) == 1
    info = json.loads((folder / "run.json").read_text())
    info["progress"]["step"] = 500
    write_run_json(folder, info)
    st = os.stat(folder / "run.json")
    os.utime(folder / "run.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**6))
    assert stream.poll()
    assert len(reads) == 2 and stream.current_step() == 500


def test_truncated_events_start_over(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    write_scalars(folder, range(50))
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    (folder / "events.jsonl").unlink()
    write_scalars(folder, range(3))
    stream.poll()
    assert stream.scalars["loss/total"].n == 3


def test_log_tail_keeps_the_last_lines_and_follows_carriage_returns(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    log = folder / "output.log"
    log.write_text("".join(f"line {i}\n" for i in range(500)))
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    tail = stream.snapshot().log
    assert len(tail) == run_stream.LOG_LINES and tail[-1] == "line 499"
    with log.open("a") as f:
        f.write("epoch 1: 10%\repoch 1: 55%\repoch 1: 100%\npartial")
    stream.poll()
    assert stream.snapshot().log[-1] == "epoch 1: 100%"
    with log.open("a") as f:
        f.write(" line\n")
    stream.poll()
    assert stream.snapshot().log[-1] == "partial line"


def test_evals_markers_and_controls(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    with EventWriter(folder / "events.jsonl") as w:
        w.emit("freeze", step=0, phase="warmup", groups={"backbone": False, "head": True})
        w.scalar(10, {"loss/total": 1.0})
        w.emit("eval", step=10, split="tokyo", metrics={"R@1": 50.0, "R@5": "nan"})
        w.emit("control", step=12, id="a", action="set", values={"optim.lr": 5e-5}, status="applied")
        w.emit("control", step=13, id="b", action="set", values={"x": 1}, status="rejected", reason="no")
        w.emit("checkpoint", step=20, path="checkpoints/best.pt", best=True)
        w.emit("eval", step=20, split="tokyo", metrics={"R@1": 55.0})
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    snap = stream.snapshot()
    assert [p.metrics.get("R@1") for p in snap.evals["tokyo"]] == [50.0, 55.0]
    assert math.isnan(snap.evals["tokyo"][0].metrics["R@5"])
    assert [(m.step, m.kind, m.label) for m in snap.markers] == [
        (0, "freeze", "warmup: frozen backbone"),
        (12, "control", "set optim.lr=5e-05"),
        (20, "checkpoint", "best checkpoint"),
    ]
    assert [c["id"] for c in snap.controls] == ["a", "b"]


def test_nan_loss_raises_an_alert(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    write_scalars(folder, range(5))
    with EventWriter(folder / "events.jsonl") as w:
        w.scalar(5, {"loss/total": float("nan"), "loss/ce": float("inf")})
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    alert = stream.alerts()[0]
    assert alert.code == "nan" and alert.level == "error" and "step 5" in alert.message


def test_divergence_alert_compares_smoothed_loss_with_its_minimum(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    with EventWriter(folder / "events.jsonl") as w:
        for s in range(300):
            w.scalar(s, {"loss/total": 1.0})
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    assert not [a for a in stream.alerts() if a.code == "diverge"]
    with EventWriter(folder / "events.jsonl") as w:
        for s in range(300, 600):
            w.scalar(s, {"loss/total": 10.0})
    stream.poll()
    assert [a for a in stream.alerts() if a.code == "diverge"]


def test_stalled_run_alert_after_a_quiet_while(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    write_scalars(folder, range(3))
    old = FROZEN_NOW - 1000
    os.utime(folder / "events.jsonl", (old, old))
    now = [old + 10]
    stream = RunStream(folder, clock=lambda: now[0], stall_after=60)
    stream.poll()
    stream.last_event_t = old
    assert not [a for a in stream.alerts() if a.code == "stall"]
    now[0] = old + 500
    assert [a for a in stream.alerts() if a.code == "stall"]


def test_dead_process_alert_shows_the_error_and_last_log_lines(tmp_path: Path) -> None:
    folder = make_run(
        tmp_path / "runs",
        "boom",
        "failed",
        task="segmentation",
        max_steps=200,
        steps=50,
        error="CUDA out of memory",
    )
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    first = stream.alerts()[0]
    assert first.code == "oom" and "CUDA out of memory" in first.message
    assert first.detail[-1] == "RuntimeError: CUDA out of memory"


def test_vanished_engine_reads_interrupted(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs", "ghost", "running", max_steps=200, alive=False)
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    assert stream.status == "interrupted"
    assert stream.alerts()[0].code == "dead"


def test_snapshot_header_numbers(tmp_path: Path) -> None:
    folder = new_run(tmp_path, progress={"step": 100, "max_steps": 1000, "epoch": 2.083})
    with EventWriter(folder / "events.jsonl") as w:
        w.scalar(100, {"loss/total": 0.5})
        w.system(100, {"img_per_s": 250.0})
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    stream._pace.clear()
    stream._pace.extend([(FROZEN_NOW - 100, 0.0), (FROZEN_NOW, 100.0)])  # one step a second
    snap = stream.snapshot()
    assert (snap.step, snap.max_steps, snap.epoch) == (100, 1000, 2.083)
    assert snap.system_last("img_per_s") == 250.0
    assert snap.eta == pytest.approx(900.0)
    assert snap.elapsed == pytest.approx(100.0)


def test_paused_status_from_events(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    with EventWriter(folder / "events.jsonl") as w:
        w.emit("status", step=3, status="paused")
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    assert stream.status == "paused"


def test_phase_message_reaches_the_header(tmp_path: Path) -> None:
    from tui.widgets.run_header import header_lines

    folder = new_run(tmp_path)
    with EventWriter(folder / "events.jsonl") as w:
        w.emit("phase", phase="caching", message="caching 1,200 / 9,120 images (train)")
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    snap = stream.snapshot()
    assert (snap.phase, snap.phase_message) == ("caching", "caching 1,200 / 9,120 images (train)")
    assert "caching 1,200 / 9,120 images (train)" in header_lines(snap)[1].plain
    with EventWriter(folder / "events.jsonl") as w:
        w.emit("phase", phase="training")
    stream.poll()
    assert stream.snapshot().phase_message is None
