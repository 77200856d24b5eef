"""Exact resume: N steps straight equal N steps with a kill -9 in the middle and `labconsole resume`."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import torch

from engine.core.protocol import effective_status, iter_events, read_json
from tests.cli.conftest import tiny_overrides
from tests.cli.test_cli_e2e import labconsole
from tests.cli.test_steering_e2e import wait_for

STEPS = 300


def overrides(city: Path) -> list[str]:
    return [
        *tiny_overrides(city, STEPS),
        "train.checkpoint_every=10",
        "train.log_every=10",
        "train.eval_at_start=false",
    ]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]["model"]


def test_kill_9_then_resume_matches_a_straight_run(tiny_city: Path, tmp_path: Path) -> None:
    straight = labconsole("run", "demo", *overrides(tiny_city), runs=tmp_path)
    assert straight.returncode == 0, straight.stderr
    straight_dir = tmp_path / straight.stdout.strip().splitlines()[-1]

    started = labconsole("run", "demo", *overrides(tiny_city), "--detach", runs=tmp_path)
    run_dir = tmp_path / started.stdout.strip()
    checkpoints = lambda: [e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "checkpoint"]  # noqa: E731
    wait_for(lambda: len(checkpoints()) >= 2)
    os.kill(read_json(run_dir / "run.json")["pid"], signal.SIGKILL)
    wait_for(lambda: effective_status(read_json(run_dir / "run.json")) == "interrupted")
    killed_at = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["step"]
    assert 0 < killed_at < STEPS

    resumed = labconsole("resume", run_dir.name, runs=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    info = read_json(run_dir / "run.json")
    assert info["status"] == "completed" and info["progress"]["step"] == STEPS
    assert any(
        e["kind"] == "resume" and e["step"] == killed_at for e in iter_events(run_dir / "events.jsonl")
    )
    a, b = weights(straight_dir), weights(run_dir)
    assert a.keys() == b.keys()
    for key in a:  # CPU, one thread: identical up to float noise
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    assert info["final"] == read_json(straight_dir / "run.json")["final"]


def test_resume_refuses_a_run_without_checkpoint(tmp_path: Path) -> None:
    from engine.core.protocol import create_run, new_run_info, write_json_atomic

    paths = create_run(tmp_path, "x")
    write_json_atomic(paths.run_json, {**new_run_info(paths.run_id, "x", "vpr", []), "status": "failed"})
    done = labconsole("resume", paths.run_id, runs=tmp_path)
    assert done.returncode == 2 and "no checkpoint" in done.stderr
