"""Tests for run.json fields, updates and the effective status of a run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.core.protocol import (
    FINISHED,
    STATUSES,
    effective_status,
    new_run_info,
    read_json,
    update_run_info,
)
from engine.core.protocol.runinfo import this_host


def test_new_run_info_has_every_field() -> None:
    info = new_run_info("r1", "demo", "vpr", ["labconsole", "run", "x.yaml"], tags=("a",), max_steps=10)
    assert set(info) == {
        "id",
        "name",
        "status",
        "created",
        "started",
        "ended",
        "pid",
        "host",
        "argv",
        "task",
        "tags",
        "progress",
        "best",
        "final",
        "error",
    }
    assert info["status"] == "queued" and info["status"] in STATUSES
    assert info["progress"] == {"step": 0, "max_steps": 10, "epoch": 0}
    assert info["tags"] == ["a"] and info["argv"][1] == "run"
    assert info["host"] == this_host()
    assert isinstance(info["created"], float)
    assert set(STATUSES) >= FINISHED and "running" not in FINISHED


def test_update_run_info_merges_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    update_run_info(path, **new_run_info("r1", None, "vpr", []))
    new = update_run_info(path, status="running", pid=123)
    assert new["status"] == "running" and new["pid"] == 123 and new["task"] == "vpr"
    assert read_json(path) == new


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid no longer exists
    return proc.pid


def test_dead_local_pid_means_interrupted() -> None:
    info = {"status": "running", "pid": _dead_pid(), "host": this_host()}
    assert effective_status(info) == "interrupted"
    assert effective_status({**info, "status": "queued"}) == "interrupted"


def test_live_pid_keeps_status() -> None:
    info = {"status": "running", "pid": os.getpid(), "host": this_host(), "started": None}
    assert effective_status(info) == "running"


def test_zombie_pid_means_interrupted() -> None:
    psutil = pytest.importorskip("psutil")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:  # exited, not yet reaped
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert effective_status({"status": "running", "pid": proc.pid, "host": this_host()}) == "interrupted"
    finally:
        proc.wait()


def test_reused_pid_means_interrupted() -> None:
    # Our own process is alive, but it was created long after this (fake) run started.
    info = {"status": "running", "pid": os.getpid(), "host": this_host(), "started": 1_000_000.0}
    assert effective_status(info) == "interrupted"


def test_other_host_and_finished_runs_are_trusted() -> None:
    dead = _dead_pid()
    assert effective_status({"status": "running", "pid": dead, "host": "elsewhere"}) == "running"
    assert effective_status({"status": "completed", "pid": dead, "host": this_host()}) == "completed"
    assert effective_status({"status": "queued", "pid": None, "host": this_host()}) == "queued"
