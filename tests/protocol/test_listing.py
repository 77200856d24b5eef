"""Tests for listing runs and resolving run references."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.core.errors import UserError
from engine.core.protocol import find_run, list_runs, new_run_info, write_json_atomic


def _make_run(
    runs: Path, run_id: str, name: str | None = None, created: float = 0.0, **fields: object
) -> Path:
    folder = runs / run_id
    folder.mkdir(parents=True)
    info = new_run_info(run_id, name, "vpr", [])
    info.update(created=created, **fields)
    write_json_atomic(folder / "run.json", info)
    return folder


def test_list_runs_skips_folders_without_run_json(tmp_path: Path) -> None:
    _make_run(tmp_path, "good", created=1.0)
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("not a run")
    (tmp_path / ".hidden").mkdir()
    # a broken run.json is listed as damaged (issue 17), never hidden
    assert [(r["id"], r["status"]) for r in list_runs(tmp_path)] == [
        ("good", "queued"),
        ("broken", "damaged"),
    ]


def test_list_runs_missing_dir_is_empty(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "nope") == []


def test_list_runs_uses_folder_name_and_effective_status(tmp_path: Path) -> None:
    _make_run(tmp_path, "folder-id", id="other-id", status="running", pid=2**22 + 12345)
    (run,) = list_runs(tmp_path)
    assert run["id"] == "folder-id"
    assert run["dir"] == tmp_path / "folder-id"
    assert run["status"] == "interrupted"  # that pid cannot exist (above pid_max)


def test_list_runs_thousand_sorted_newest_first(tmp_path: Path) -> None:
    for i in range(1000):
        _make_run(tmp_path, f"run-{i:04d}", name=f"n{i}", created=1000.0 + (i * 7919) % 1000)
    start = time.perf_counter()
    runs = list_runs(tmp_path)
    elapsed = time.perf_counter() - start
    print(f"list_runs: 1,000 runs in {elapsed * 1000:.1f} ms")
    assert len(runs) == 1000
    created = [r["created"] for r in runs]
    assert created == sorted(created, reverse=True)
    assert all(r["status"] == "queued" and r["name"] == f"n{int(r['id'][4:])}" for r in runs)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    _make_run(tmp_path, "20250101-100000-resnet", name="resnet", created=1.0)
    _make_run(tmp_path, "20250101-110000-convnext", name="convnext", created=2.0)
    _make_run(tmp_path, "20250102-090000-dino", name="dino", created=3.0)
    _make_run(tmp_path, "20250103-090000-dino", name="dino", created=4.0)
    return tmp_path


def test_find_run_exact_prefix_and_name(runs: Path) -> None:
    assert find_run(runs, "20250101-100000-resnet").run_id == "20250101-100000-resnet"
    assert find_run(runs, "20250101-11").run_id == "20250101-110000-convnext"
    assert find_run(runs, "convnext").run_id == "20250101-110000-convnext"
    assert find_run(runs, "convnext").root == runs / "20250101-110000-convnext"


def test_find_run_exact_beats_prefix(runs: Path) -> None:
    _make_run(runs, "20250101", created=5.0)
    assert find_run(runs, "20250101").run_id == "20250101"


def test_find_run_ambiguous_lists_candidates(runs: Path) -> None:
    with pytest.raises(UserError, match="ambiguous") as err:
        find_run(runs, "20250101")
    assert "20250101-100000-resnet" in str(err.value) and "20250101-110000-convnext" in str(err.value)
    with pytest.raises(UserError, match="ambiguous.*20250102-090000-dino.*20250103-090000-dino"):
        find_run(runs, "dino")


@pytest.mark.parametrize("ref", ["nothing", "", "../x", "a/b", ".."])
def test_find_run_none(runs: Path, ref: str) -> None:
    with pytest.raises(UserError, match="no run .* `labconsole ls`"):
        find_run(runs, ref)


def test_find_run_accepts_a_folder_path(runs: Path) -> None:
    assert find_run(runs, f"{runs}/20250102-090000-dino/").run_id == "20250102-090000-dino"
