"""Tests for run ids, run paths, run creation and atomic JSON files."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from engine.core.errors import UserError
from engine.core.protocol import (
    RunPaths,
    create_run,
    new_run_id,
    read_json,
    resolve_runs_dir,
    validate_run_id,
    write_json_atomic,
)


@pytest.mark.parametrize("good", ["a", "20250101-120000-resnet50", "A.b_c-1", "x..y"])
def test_validate_run_id_accepts_safe_names(good: str) -> None:
    assert validate_run_id(good) == good


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "a b", "ü", "a\nb", "/abs"])
def test_validate_run_id_rejects_unsafe_names(bad: str) -> None:
    with pytest.raises(UserError, match="bad run id"):
        validate_run_id(bad)


def test_run_paths_of_rejects_traversal(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        RunPaths.of(tmp_path, "../escape")


def test_run_paths_names_every_file(tmp_path: Path) -> None:
    paths = RunPaths.of(tmp_path, "r1")
    assert paths.run_id == "r1"
    assert [
        p.name for p in (paths.config, paths.run_json, paths.events, paths.control, paths.output_log)
    ] == ["config.yaml", "run.json", "events.jsonl", "control.jsonl", "output.log"]
    assert paths.checkpoints == tmp_path / "r1" / "checkpoints"


def test_new_run_id_format_and_slug() -> None:
    now = time.mktime((2025, 3, 4, 5, 6, 7, 0, 0, -1))
    assert new_run_id(now=now) == "20250304-050607"
    assert new_run_id("ResNet50 GeM/p=3", now=now) == "20250304-050607-resnet50-gem-p-3"
    long = new_run_id("x" * 100, now=now)
    assert long == "20250304-050607-" + "x" * 40
    validate_run_id(new_run_id("../../etc/passwd ✓", now=now))
    assert new_run_id("///", now=now) == "20250304-050607"


def test_resolve_runs_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABCONSOLE_RUNS", raising=False)
    assert resolve_runs_dir() == tmp_path / "runs"
    monkeypatch.setenv("LABCONSOLE_RUNS", "from_env")
    assert resolve_runs_dir() == tmp_path / "from_env"
    assert resolve_runs_dir("explicit") == tmp_path / "explicit"
    assert resolve_runs_dir(tmp_path / "p").is_absolute()


def test_create_run_makes_unique_folders(tmp_path: Path) -> None:
    runs = tmp_path / "deep" / "runs"
    made = [create_run(runs, "same name") for _ in range(3)]
    ids = [p.run_id for p in made]
    assert len(set(ids)) == 3
    assert all(p.root.is_dir() and p.checkpoints.is_dir() for p in made)
    if ids[0] == ids[1].rsplit("-", 1)[0]:  # same second: suffixes -2, -3
        assert ids[1].endswith("-2")


def test_create_run_collision_appends_counter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.core.protocol.rundir.new_run_id", lambda name=None, now=None: "fixed-id")
    ids = [create_run(tmp_path, "n").run_id for _ in range(3)]
    assert ids == ["fixed-id", "fixed-id-2", "fixed-id-3"]


def test_create_run_is_exclusive_across_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.core.protocol.rundir.new_run_id", lambda name=None, now=None: "race")
    ids: list[str] = []
    threads = [threading.Thread(target=lambda: ids.append(create_run(tmp_path).run_id)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 8


def test_write_and_read_json(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    write_json_atomic(target, {"a": 1, "b": [1, 2]})
    assert read_json(target) == {"a": 1, "b": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp file left behind


def test_read_json_none_when_missing_or_broken(tmp_path: Path) -> None:
    assert read_json(tmp_path / "missing.json") is None
    (tmp_path / "half.json").write_text('{"a": 1,')
    assert read_json(tmp_path / "half.json") is None
    (tmp_path / "list.json").write_text("[1, 2]")
    assert read_json(tmp_path / "list.json") is None
    assert read_json(tmp_path) is None


def test_failed_replace_keeps_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "run.json"
    write_json_atomic(target, {"version": 1})

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_json_atomic(target, {"version": 2})
    assert json.loads(target.read_text()) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_unserialisable_object_keeps_old_content(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    write_json_atomic(target, {"version": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": object()})
    assert read_json(target) == {"version": 1}


def test_concurrent_reader_never_sees_partial_json(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    write_json_atomic(target, {"step": 0, "pad": "x" * 20_000})
    stop = threading.Event()
    bad: list[str] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            text = target.read_text()
            reads += 1
            try:
                json.loads(text)
            except ValueError:
                bad.append(text[:50])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for step in range(300):
            write_json_atomic(target, {"step": step, "pad": "x" * (20_000 + step)})
    finally:
        stop.set()
        thread.join()
    assert reads > 0
    assert bad == []
    assert read_json(target)["step"] == 299
