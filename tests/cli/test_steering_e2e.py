"""A live detached run steered through the real CLI: set LR (applied at a step), a rejected key, stop, SIGTERM."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from engine.core.protocol import iter_events, read_json
from tests.cli.conftest import tiny_overrides
from tests.cli.test_cli_e2e import labconsole


def start(runs: Path, city: Path, steps: int = 100_000, extra: tuple[str, ...] = ()) -> str:
    done = labconsole("run", "demo", *tiny_overrides(city, steps), *extra, "--detach", runs=runs)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def wait_for(predicate, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def scalars(run_dir: Path) -> list[dict]:
    return [e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "scalar"]


def test_set_lr_then_reject_then_stop(tiny_city: Path, tmp_path: Path) -> None:
    run_id = start(tmp_path, tiny_city)
    run_dir = tmp_path / run_id
    wait_for(lambda: len(scalars(run_dir)) >= 2)
    applied = labconsole("set", run_id, "optim.lr=0.0123", runs=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "applied at step" in applied.stdout
    answer = next(e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "control")
    wait_for(lambda: any(s["step"] > answer["step"] for s in scalars(run_dir)))
    after = next(s for s in scalars(run_dir) if s["step"] > answer["step"])
    before = [s for s in scalars(run_dir) if s["step"] <= answer["step"]][-1]
    # the demo schedule is cosine with warmup: the LR ratio follows the new base LR, not the old one
    assert after["values"]["lr/head"] > before["values"]["lr/head"] * 2
    frozen = labconsole("set", run_id, "freeze.backbone=on", runs=tmp_path)
    assert frozen.returncode == 0 and "freeze.backbone=frozen" in frozen.stdout, frozen.stderr
    steered = [e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "freeze" and e.get("steered")]
    assert steered[0]["steered"] == {"backbone": "frozen"} and steered[0]["groups"]["backbone"] is False
    rejected = labconsole("set", run_id, "optim.momentun=0.5", runs=tmp_path)
    assert rejected.returncode == 2 and "rejected" in rejected.stderr and "optim.lr" in rejected.stderr
    stopped = labconsole("stop", run_id, runs=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    wait_for(lambda: read_json(run_dir / "run.json")["status"] == "stopped")
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    assert labconsole("stop", run_id, runs=tmp_path).returncode == 2  # no longer running


def test_sigterm_checkpoints_and_marks_interrupted(tiny_city: Path, tmp_path: Path) -> None:
    run_id = start(tmp_path, tiny_city)
    run_dir = tmp_path / run_id
    wait_for(lambda: len(scalars(run_dir)) >= 1)
    os.kill(read_json(run_dir / "run.json")["pid"], signal.SIGTERM)
    wait_for(lambda: read_json(run_dir / "run.json")["status"] == "interrupted")
    assert (run_dir / "checkpoints" / "last.pt").is_file()


def test_sigterm_to_the_whole_group_with_data_workers_still_checkpoints(
    tiny_city: Path, tmp_path: Path
) -> None:
    """Slurm signals every process of a job: the data loading workers die with the engine's SIGTERM, and the
    run still ends interrupted with its checkpoint (not failed for a lost worker)."""
    run_id = start(tmp_path, tiny_city, extra=("data.cache=off", "data.workers=2"))
    run_dir = tmp_path / run_id
    wait_for(lambda: len(scalars(run_dir)) >= 1)
    os.killpg(os.getpgid(read_json(run_dir / "run.json")["pid"]), signal.SIGTERM)
    wait_for(lambda: read_json(run_dir / "run.json")["status"] in ("interrupted", "failed"))
    info = read_json(run_dir / "run.json")
    assert info["status"] == "interrupted", info.get("error")
    assert (run_dir / "checkpoints" / "last.pt").is_file()
