"""The sweep queue's decisions on fake runs: N at a time, a failure never stops the rest, pause, stop, resume
after a reboot, one queue per sweep. The engine is never started: prepare_point and start_engine are stand-ins."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from engine.core.errors import UserError
from engine.core.protocol import RunPaths, create_run, new_run_info, update_run_info, write_json_atomic
from engine.core.sweep import load_sweep, request_sweep
from engine.core.sweep import queue as queue_module
from engine.core.sweep import requests as requests_module
from engine.core.sweep.store import SweepPaths, hold_pid_file, queue_pid, read_state
from tests.sweep.fake_sweep import make_sweep


class FakeEngine:
    def poll(self) -> None:
        return None


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """(run id, resume) of every engine the queue starts; each run then looks alive (this process's pid)."""
    calls: list[tuple[str, bool]] = []

    def prepare_point(paths: SweepPaths, plan: dict, point: dict, total: int) -> RunPaths:
        run = create_run(paths.runs_dir, f"p{point['index']}")
        write_json_atomic(run.run_json, new_run_info(run.run_id, f"p{point['index']}", "vpr", []))
        return run

    def start_engine(paths: RunPaths, resume: bool = False) -> FakeEngine:
        update_run_info(paths.run_json, status="running", pid=os.getpid(), started=time.time())
        calls.append((paths.run_id, resume))
        return FakeEngine()

    monkeypatch.setattr(queue_module, "prepare_point", prepare_point)
    monkeypatch.setattr(queue_module, "start_engine", start_engine)
    monkeypatch.setattr(requests_module, "start_points", lambda paths: None)  # no real queue process
    return calls


def three_points(runs: Path) -> SweepPaths:
    return make_sweep(runs, {"optim.lr": ["1e-3", "3e-3", "1e-2"]}, [None, None, None])  # parallel 2


def end_run(runs: Path, run_id: str, status: str) -> None:
    update_run_info(runs / run_id / "run.json", status=status, ended=time.time())


def statuses(paths: SweepPaths) -> list[str]:
    return [p["status"] for p in read_state(paths)["points"]]


def test_two_at_a_time_and_a_failure_does_not_stop_the_rest(tmp_path: Path, started: list) -> None:
    paths = three_points(tmp_path)
    queue = queue_module.SweepQueue(paths)
    assert not queue.tick()
    assert statuses(paths) == ["running", "running", "queued"] and len(started) == 2
    end_run(tmp_path, started[0][0], "failed")
    assert not queue.tick()
    assert statuses(paths) == ["failed", "running", "running"]
    end_run(tmp_path, started[1][0], "completed")
    end_run(tmp_path, started[2][0], "completed")
    assert queue.tick()
    assert statuses(paths) == ["failed", "completed", "completed"]
    assert load_sweep(tmp_path, paths.sweep_id).status == "completed"


def test_pause_starts_nothing_until_resumed(tmp_path: Path, started: list) -> None:
    paths = three_points(tmp_path)
    queue = queue_module.SweepQueue(paths)
    request_sweep(tmp_path, paths.sweep_id, "pause")
    assert not queue.tick() and started == []
    request_sweep(tmp_path, paths.sweep_id, "resume")
    queue.tick()
    assert len(started) == 2


def test_stop_stops_the_running_and_skips_the_rest(tmp_path: Path, started: list) -> None:
    paths = three_points(tmp_path)
    queue = queue_module.SweepQueue(paths)
    queue.tick()
    message = request_sweep(tmp_path, paths.sweep_id, "stop")
    assert "2 running run(s) sent stop, 1 not started skipped" in message
    for run_id, _ in started:
        sent = [line for line in (tmp_path / run_id / "control.jsonl").read_text().splitlines() if line]
        assert len(sent) == 1 and '"stop"' in sent[0]
    assert not queue.tick()  # waits for the running ones to end
    for run_id, _ in started:
        end_run(tmp_path, run_id, "stopped")
    assert queue.tick()
    assert statuses(paths) == ["stopped", "stopped", "skipped"]
    assert load_sweep(tmp_path, paths.sweep_id).status == "stopped"
    # resume: the stopped runs continue from their checkpoints, the skipped point is queued again
    for run_id, _ in started:
        (tmp_path / run_id / "checkpoints" / "last.pt").write_bytes(b"x")
    request_sweep(tmp_path, paths.sweep_id, "resume")
    assert statuses(paths) == ["queued", "queued", "queued"]
    started.clear()
    queue_module.SweepQueue(paths).tick()
    assert all(resume for _, resume in started) and len(started) == 2


def test_after_a_reboot_an_interrupted_run_resumes_and_one_without_checkpoint_starts_over(
    tmp_path: Path, started: list
) -> None:
    paths = three_points(tmp_path)
    first = queue_module.SweepQueue(paths)
    first.tick()
    dead_pid = 2**22 + 12345  # no such process: the engines died with the machine
    for run_id, _ in started:
        update_run_info(tmp_path / run_id / "run.json", pid=dead_pid)
    kept = started[0][0]
    (tmp_path / kept / "checkpoints" / "last.pt").write_bytes(b"x")
    started.clear()
    second = queue_module.SweepQueue(paths)
    second.recover()
    assert statuses(paths) == ["queued", "queued", "queued"]
    second.tick()
    assert started[0] == (kept, True)  # same run folder, through the resume path
    assert started[1][1] is False and started[1][0] != kept  # no checkpoint: a new run
    assert read_state(paths)["points"][0]["run_id"] == kept


def test_a_second_queue_for_the_same_sweep_refuses(tmp_path: Path) -> None:
    paths = three_points(tmp_path)
    assert queue_pid(paths) is None
    fd = hold_pid_file(paths)
    try:
        assert queue_pid(paths) == os.getpid()
        with pytest.raises(UserError, match="already has a queue running"):
            hold_pid_file(paths)
        assert queue_module.main([str(paths.root)]) == 2
    finally:
        os.close(fd)
    assert queue_pid(paths) is None


def test_a_point_that_cannot_start_fails_alone(
    tmp_path: Path, started: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = three_points(tmp_path)
    real_prepare = queue_module.prepare_point

    def prepare(paths: SweepPaths, plan: dict, point: dict, total: int) -> Any:
        if point["index"] == 0:
            raise UserError("data.root: /gone not found")
        return real_prepare(paths, plan, point, total)

    monkeypatch.setattr(queue_module, "prepare_point", prepare)
    queue_module.SweepQueue(paths).tick()
    state = read_state(paths)
    assert statuses(paths) == ["failed", "running", "running"]
    assert state["points"][0]["error"] == "data.root: /gone not found"


def test_extend_adds_the_missing_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.core.sweep import extend_sweep
    from engine.core.sweep import plan as plan_module

    monkeypatch.setattr(plan_module, "check_data", lambda cfg: None)
    monkeypatch.setattr(plan_module, "start_points", lambda paths: None)
    paths = make_sweep(tmp_path, {"model.aggregator": ["gem", "netvlad"], "optim.lr": ["1e-3"]}, [None, None])
    assert extend_sweep(tmp_path, paths.sweep_id, ["optim.lr=3e-3,1e-2"]) == [2, 3, 4, 5]
    varied = [p["varied"] for p in read_state(paths)["points"]]
    assert varied[2] == {"model.aggregator": "gem", "optim.lr": "3e-3"}
    assert varied[5] == {"model.aggregator": "netvlad", "optim.lr": "1e-2"}
    with pytest.raises(UserError, match="already has every point"):
        extend_sweep(tmp_path, paths.sweep_id, ["optim.lr=1e-3"])
    with pytest.raises(UserError, match="train.seed is not one of them"):
        extend_sweep(tmp_path, paths.sweep_id, ["train.seed=1,2"])
    with pytest.raises(UserError, match=r"sweep point 6 \(model.aggregator=gem optim.lr=-1\): optim.lr"):
        extend_sweep(tmp_path, paths.sweep_id, ["optim.lr=-1"])
    assert len(read_state(paths)["points"]) == 6  # a bad extension adds nothing
