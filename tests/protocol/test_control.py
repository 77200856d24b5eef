"""Tests for the control channel: sending, polling, malformed and unknown commands."""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import pytest

from engine.core.errors import UserError
from engine.core.protocol import CONTROL_ACTIONS, ControlReader, send_control


def test_send_then_poll(tmp_path: Path) -> None:
    path = tmp_path / "control.jsonl"
    reader = ControlReader(path)
    assert reader.poll() == []  # missing file
    first = send_control(path, "set", {"optim.lr": 1e-4})
    second = send_control(path, "stop")
    commands = reader.poll()
    assert [c["id"] for c in commands] == [first, second]
    assert commands[0]["action"] == "set" and commands[0]["values"] == {"optim.lr": 1e-4}
    assert commands[1]["values"] == {} and isinstance(commands[1]["t"], float)
    assert len(first) == 12 and first != second
    assert reader.poll() == []
    send_control(path, "eval")
    assert [c["action"] for c in reader.poll()] == ["eval"]


def test_poll_without_changes_does_not_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "control.jsonl"
    send_control(path, "pause")
    reader = ControlReader(path)
    reader.poll()

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("poll opened the file although nothing changed")

    monkeypatch.setattr("builtins.open", no_open)
    assert reader.poll() == []


def test_unknown_action_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown control action 'stpo'.*did you mean 'stop'.*allowed: "):
        send_control(tmp_path / "control.jsonl", "stpo")
    assert not (tmp_path / "control.jsonl").exists()
    assert set(CONTROL_ACTIONS) == {"set", "stop", "pause", "resume", "eval", "checkpoint"}


def test_bad_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="plain JSON"):
        send_control(tmp_path / "control.jsonl", "set", {"lr": math.nan})
    with pytest.raises(UserError, match="mapping"):
        send_control(tmp_path / "control.jsonl", "set", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(UserError, match="no run folder"):
        send_control(tmp_path / "missing" / "control.jsonl", "stop")


def test_malformed_lines_are_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "control.jsonl"
    good = send_control(path, "checkpoint")
    with open(path, "a") as f:
        f.write("garbage\n")
        f.write("[1, 2]\n")
        f.write(json.dumps({"id": "abc", "action": "explode"}) + "\n")
        f.write(json.dumps({"id": "def", "action": "set", "values": 3}) + "\n")
        f.write("\n")
    commands = ControlReader(path).poll()
    assert commands[0]["id"] == good and "error" not in commands[0]
    assert [c["id"] for c in commands[1:]] == [None, None, "abc", "def"]
    assert all("error" in c and "raw" in c for c in commands[1:])
    assert commands[1]["raw"] == "garbage"
    assert "unknown control action 'explode'" in commands[3]["error"]


def test_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "control.jsonl"
    reader = ControlReader(path)
    line = json.dumps({"id": "x1", "action": "resume", "values": {}})
    path.write_text(line[:10])
    assert reader.poll() == []
    with open(path, "a") as f:
        f.write(line[10:] + "\n")
    assert [c["id"] for c in reader.poll()] == ["x1"]
    assert reader.offset == os.path.getsize(path)


def test_concurrent_senders_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "control.jsonl"
    threads = [
        threading.Thread(target=lambda: [send_control(path, "set", {"k": "v" * 500}) for _ in range(50)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    commands = ControlReader(path).poll()
    assert len(commands) == 200 and all("error" not in c for c in commands)
