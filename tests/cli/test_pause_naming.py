"""pause / unpause / resume cannot be confused: each verb on the other's kind of run says which verb it needs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.tui.fixtures import make_run
from tui.cli.main import main


def _log_status(run_dir: Path, status: str) -> None:
    with open(run_dir / "events.jsonl", "a") as f:
        f.write(json.dumps({"t": time.time(), "kind": "status", "step": 5, "status": status}) + "\n")


def test_resume_on_a_paused_run_points_to_unpause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path, "held", status="running", steps=5)
    _log_status(run, "paused")
    assert main(["resume", "--runs-dir", str(tmp_path), "held"]) == 2
    err = capsys.readouterr().err
    assert "is paused, not stopped" in err and f"labconsole unpause {run.name}" in err
    assert "Traceback" not in err


def test_unpause_on_a_stopped_run_points_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(tmp_path, "halted", status="stopped", steps=5)
    assert main(["unpause", "--runs-dir", str(tmp_path), "halted"]) == 2
    err = capsys.readouterr().err
    assert "not running (status stopped)" in err and f"labconsole resume {run.name}" in err


def test_pause_twice_and_unpause_a_running_run_answer_without_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(tmp_path, "busy", status="running", steps=5)
    assert main(["unpause", "--runs-dir", str(tmp_path), "busy"]) == 0
    assert "not paused: nothing to unpause" in capsys.readouterr().out
    _log_status(run, "paused")
    assert main(["pause", "--runs-dir", str(tmp_path), "busy"]) == 0
    assert "already paused" in capsys.readouterr().out
    assert not (run / "control.jsonl").exists() or not (run / "control.jsonl").read_text().strip()


def test_help_tells_the_three_apart(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "unpause" in out and "a paused run: unpause" in out and "labconsole resume" in out
