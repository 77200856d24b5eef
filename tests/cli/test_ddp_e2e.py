"""Two CPU processes with DDP (gloo) through the real `labconsole` CLI: run, steer, stop, SIGTERM, bad device setups."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from engine.checkpoint import load_checkpoint
from engine.core.protocol import iter_events, read_json
from tests.cli.conftest import tiny_overrides
from tests.cli.test_cli_e2e import labconsole
from tests.cli.test_steering_e2e import scalars, wait_for

DDP = ["device.processes=2", "device.name=cpu"]


def start(runs: Path, city: Path) -> Path:
    done = labconsole("run", "demo", *tiny_overrides(city, 100_000), *DDP, "--detach", runs=runs)
    assert done.returncode == 0, done.stderr
    return runs / done.stdout.strip()


@pytest.mark.slow
def test_two_gloo_processes_train_and_only_rank_0_writes(tiny_city: Path, tmp_path: Path) -> None:
    done = labconsole("run", "demo", *tiny_overrides(tiny_city), *DDP, runs=tmp_path)
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / done.stdout.strip().splitlines()[-1]
    info = read_json(run_dir / "run.json")
    assert info["status"] == "completed" and info["progress"]["step"] == 4
    assert info["world_size"] == 2 and info["global_batch"] == 16  # 2 processes × 4 places × 2 images
    assert info["progress"]["epoch"] == pytest.approx(4 * 16 / 160)
    assert info["params"]["total"] == info["params"]["trainable"] > 0
    assert set(info["params"]["by_group"]) >= {"backbone", "aggregator", "head"}
    events = list(iter_events(run_dir / "events.jsonl"))
    # one writer: every step logged once, one start and one end, evaluations only by rank 0
    assert [e["step"] for e in events if e["kind"] == "scalar"] == [1, 2, 3, 4]
    assert [e["status"] for e in events if e["kind"] == "status"] == ["running", "completed"]
    assert [e["step"] for e in events if e["kind"] == "eval"] == [0] * 4 + [4] * 4  # val + 3 test sets
    model = next(e for e in events if e["kind"] == "model")
    assert model["world_size"] == 2 and model["params"] == info["params"]
    last = [e for e in events if e["kind"] == "checkpoint" and not e["best"]]
    assert last and all(e["ranks_in_sync"] for e in last)
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert state["step"] == 4 and state["model"]["sampler"]["world_size"] == 2
    assert "2 processes (gloo) × 8 images = global batch 16" in (run_dir / "output.log").read_text()


@pytest.mark.slow
def test_set_lr_reaches_both_ranks_at_one_step_then_stop(tiny_city: Path, tmp_path: Path) -> None:
    run_dir = start(tmp_path, tiny_city)
    wait_for(lambda: len(scalars(run_dir)) >= 2)
    applied = labconsole("set", run_dir.name, "optim.lr=0.0123", runs=tmp_path)
    assert applied.returncode == 0 and "applied at step" in applied.stdout, applied.stderr
    answer = next(e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "control")
    wait_for(lambda: any(s["step"] > answer["step"] for s in scalars(run_dir)))
    after = next(s for s in scalars(run_dir) if s["step"] > answer["step"])
    before = [s for s in scalars(run_dir) if s["step"] <= answer["step"]][-1]
    assert after["values"]["lr/head"] > before["values"]["lr/head"] * 2
    stopped = labconsole("stop", run_dir.name, runs=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    wait_for(lambda: read_json(run_dir / "run.json")["status"] == "stopped")
    # a rank that applied the LR one step late would hold other weights: the stop checkpoint compares them
    (last,) = [e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "checkpoint"]
    assert last["ranks_in_sync"] is True and last["step"] > answer["step"]
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["schedule"]["base_lr"] == 0.0123


@pytest.mark.slow
def test_sigterm_to_the_process_group_interrupts_every_rank(tiny_city: Path, tmp_path: Path) -> None:
    run_dir = start(tmp_path, tiny_city)
    wait_for(lambda: len(scalars(run_dir)) >= 1)
    launcher = read_json(run_dir / "run.json")["launcher_pid"]
    os.killpg(launcher, signal.SIGTERM)  # torchrun forwards it to each rank
    wait_for(lambda: read_json(run_dir / "run.json")["status"] == "interrupted")
    checkpoint = next(e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "checkpoint")
    assert checkpoint["ranks_in_sync"] is True
    wait_for(lambda: not _alive(launcher))  # every rank left: the launcher exits after its last worker


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["device.processes=0"], ["device.processes", "must be ≥ 1, got 0"]),
        (["device.processes=two"], ["device.processes", "expected an integer"]),
        (
            ["device.processes=2", "device.name=cuda"],
            ["device.processes", "2 processes on cuda", "this machine has 0"],
        ),
    ],
)
def test_bad_process_setups_exit_2_with_one_line(
    tiny_city: Path, tmp_path: Path, overrides: list[str], words: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU, whatever the machine has
    done = labconsole("run", "demo", *tiny_overrides(tiny_city), *overrides, runs=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert all(word in done.stderr for word in words), done.stderr
    assert not list(tmp_path.iterdir())
