"""Provenance: code state of a git checkout (clean, dirty with its diff), versions, weights, differences."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.core.provenance import (
    code_state,
    collect_provenance,
    differences,
    file_sha256,
    package_versions,
    provenance_lines,
    weight_hashes,
)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "t")
    (root / "model.py").write_text("width = 8\n")
    _git(root, "add", "model.py")
    _git(root, "commit", "-qm", "first")
    return root


def test_clean_checkout_has_commit_and_no_diff(repo: Path, tmp_path: Path) -> None:
    state = code_state(repo, tmp_path)
    assert len(state["commit"]) == 40 and state["branch"] == "main" and state["dirty"] is False
    assert not (tmp_path / "code.diff").exists()


def test_dirty_checkout_stores_its_diff_in_the_run_folder(repo: Path, tmp_path: Path) -> None:
    (repo / "model.py").write_text("width = 16\n")
    run = tmp_path / "run"
    run.mkdir()
    state = code_state(repo, run)
    assert state["dirty"] is True and state["diff_file"] == "code.diff"
    assert "+width = 16" in (run / "code.diff").read_text()
    (repo / "model.py").write_text("width = 32\n")
    assert code_state(repo)["diff_sha256"] != state["diff_sha256"]


def test_not_a_checkout_gives_no_code_state(tmp_path: Path) -> None:
    assert code_state(tmp_path) == {}


def test_versions_and_weights(tmp_path: Path) -> None:
    versions = package_versions()
    assert versions["python"].count(".") == 2 and "numpy" in versions
    weights = tmp_path / "resnet.pth"
    weights.write_bytes(b"\x00" * 1000)
    cfg = {
        "model": {"backbone": {"name": "resnet50", "pretrained": str(weights)}, "aggregator": {"name": "gem"}}
    }
    assert weight_hashes(cfg) == {str(weights): file_sha256(weights)}
    assert weight_hashes({"model": {"backbone": {"pretrained": "hf-hub:timm/resnet50.a1_in1k"}}}) == {}


def test_differences_name_what_changed(tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"a")
    cfg = {"train": {"seed": 3}, "model": {"backbone": {"pretrained": str(weights)}}}
    before = collect_provenance(cfg, None, ["labconsole", "run", "demo"])
    assert differences(before, before) == []
    after = {**before, "versions": {**before["versions"], "torch": "9.9.9"}}
    weights.write_bytes(b"b")
    after["weights"] = weight_hashes(cfg)
    after["code"] = {**before.get("code", {}), "commit": "f" * 40} if before.get("code") else {}
    changed = differences({**before, "versions": {**before["versions"], "torch": "2.14.1"}}, after)
    assert "torch 2.14.1 → 9.9.9" in changed
    assert f"weights file {weights} changed" in changed
    if before.get("code"):
        assert any(c.startswith("code commit ") for c in changed)


def test_lines_read_well() -> None:
    record = {
        "seed": 0,
        "code": {"commit": "a" * 40, "branch": "main", "dirty": True, "diff_file": "code.diff"},
        "versions": {"python": "3.11.9", "torch": "2.14.1"},
        "host": {"name": "node7", "cpu": "Xeon", "cpus": 32, "memory_gb": 251.5},
        "accelerators": {"cuda": "12.4", "cudnn": 90100, "gpus": ["A100", "A100"], "driver": "550.54"},
        "command": "labconsole run demo",
        "weights": {"/w/r50.pth": "b" * 64},
    }
    lines = provenance_lines(record)
    assert lines[0] == "code aaaaaaaaaa (main), uncommitted changes in code.diff"
    assert lines[1] == "seed 0 · python 3.11.9 · torch 2.14.1"
    assert lines[2] == "host node7 · Xeon × 32 · 251.5 GB · 2× A100 (CUDA 12.4, cuDNN 90100, driver 550.54)"
    assert lines[3:] == ["command labconsole run demo", "weights /w/r50.pth sha256 bbbbbbbbbbbbbbbb"]
