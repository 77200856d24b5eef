"""run.json found corrupt on a live run: the writer restores it from its own last good copy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.core.protocol import EventWriter, new_run_info, read_json, update_run_info, write_json_atomic

CORRUPTIONS = {
    "truncated": lambda text: text[: len(text) // 2],
    "garbage": lambda text: "\x00\x17 not json at all",
    "empty": lambda text: "",
    "a list": lambda text: "[]",
    "a number": lambda text: "42",
}


def _live_run(path: Path) -> dict:
    """A run.json as the launcher and the engine leave it once training runs."""
    info = new_run_info(
        "r1", "baseline", "vpr", ["labconsole", "run", "vpr.yaml"], tags=("a", "b"), max_steps=90
    )
    write_json_atomic(path, info)
    update_run_info(path, status="running", started=123.5, pid=os.getpid())
    return update_run_info(path, params={"total": 1000, "trainable": 10}, main_metric="R@1")


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_corrupt_run_json_keeps_every_earlier_field(
    tmp_path: Path, corruption: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r1" / "run.json"
    path.parent.mkdir()
    before = _live_run(path)
    path.write_text(CORRUPTIONS[corruption](path.read_text()))

    after = update_run_info(path, progress={"step": 40, "max_steps": 90, "epoch": 1})

    assert after == {**before, "progress": {"step": 40, "max_steps": 90, "epoch": 1}}
    assert read_json(path) == after
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(path) in warnings[0]


def test_the_copy_follows_every_update(tmp_path: Path) -> None:
    """The restored copy holds the latest update, not the first one seen."""
    path = tmp_path / "r1" / "run.json"
    path.parent.mkdir()
    _live_run(path)
    update_run_info(path, best={"test": {"R@1": 71.5}})
    path.write_text("{")
    after = update_run_info(path, status="completed", ended=200.0)
    assert after["best"] == {"test": {"R@1": 71.5}}
    assert after["name"] == "baseline" and after["started"] == 123.5 and after["status"] == "completed"


def test_fields_another_process_wrote_are_kept_while_the_file_is_good(tmp_path: Path) -> None:
    """The copy only stands in for a corrupt file: a good file is always merged as read."""
    path = tmp_path / "r1" / "run.json"
    path.parent.mkdir()
    _live_run(path)
    update_run_info(path, slurm_job_id="77")  # as if from the launcher
    info = update_run_info(path, progress={"step": 1, "max_steps": 90, "epoch": 0})
    assert info["slurm_job_id"] == "77"


def test_returned_dict_changes_do_not_leak_into_the_copy(tmp_path: Path) -> None:
    path = tmp_path / "r1" / "run.json"
    path.parent.mkdir()
    info = _live_run(path)
    info["tags"].append("changed by a caller")
    path.write_text("garbage")
    assert update_run_info(path, pid=1)["tags"] == ["a", "b"]


def test_without_a_good_copy_the_file_is_rebuilt_consistently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A process that never saw a good run.json keeps the folder's id and the status the engine last logged."""
    run = tmp_path / "never-seen"
    run.mkdir()
    with EventWriter(run / "events.jsonl") as events:
        events.emit("status", status="running")
        events.emit("status", status="paused")
    (run / "run.json").write_text('{"id": "never-seen", "name": "lost", "sta')

    info = update_run_info(run / "run.json", progress={"step": 5, "max_steps": 10, "epoch": 0})

    assert info["id"] == "never-seen" and info["status"] == "running"
    assert set(new_run_info("x", None, None, ())) <= set(info)
    assert info["progress"] == {"step": 5, "max_steps": 10, "epoch": 0}
    assert json.loads((run / "run.json").read_text()) == info
    assert "never read it" in capsys.readouterr().err


def test_a_missing_run_json_still_starts_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.json"
    assert update_run_info(path, status="queued") == {"status": "queued"}
    assert capsys.readouterr().err == ""
