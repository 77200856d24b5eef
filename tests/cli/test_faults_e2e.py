"""Faults against the real binary: a bad `set` leaves the run going, kill -9 after an evaluation loses at most
the steps since it, a killed or disk-starved foreground run exits 1 and says why."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from engine.core.protocol import effective_status, iter_events, read_json
from tests.cli.conftest import tiny_overrides
from tests.cli.test_cli_e2e import labconsole
from tests.cli.test_steering_e2e import wait_for

BINARY = Path(sys.executable).with_name("labconsole")


def _events(run_dir: Path, kind: str) -> list[dict]:
    return [e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == kind]


def test_bad_set_values_are_rejected_then_kill_9_after_an_evaluation_resumes_from_it(
    tiny_city: Path, tmp_path: Path
) -> None:
    steps = 400
    started = labconsole(
        "run", "demo", *tiny_overrides(tiny_city, steps), "train.eval_every=10", "--detach", runs=tmp_path
    )
    assert started.returncode == 0, started.stderr
    run_dir = tmp_path / started.stdout.strip()
    wait_for(lambda: any(e["step"] > 0 for e in _events(run_dir, "checkpoint")))
    for value in (
        "schedule.min_lr_ratio=-1",
        "schedule.warmup_type=bogus",
        "optim.lr=1e308",
        "optim.lr=.nan",
    ):
        answer = labconsole("set", run_dir.name, value, runs=tmp_path)
        # rejected by the engine, or already by the CLI's own parsing (NaN): exit 2 naming the key either way
        assert answer.returncode == 2 and value.split("=")[0] in answer.stderr, (value, answer.stderr)
    assert effective_status(read_json(run_dir / "run.json")) == "running"
    saved = max(e["step"] for e in _events(run_dir, "checkpoint"))
    os.kill(read_json(run_dir / "run.json")["pid"], signal.SIGKILL)
    wait_for(lambda: effective_status(read_json(run_dir / "run.json")) == "interrupted")
    late = labconsole("set", run_dir.name, "optim.lr=0.01", runs=tmp_path)
    assert late.returncode == 2 and "not running" in late.stderr
    resumed = labconsole("resume", run_dir.name, runs=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    [resume] = _events(run_dir, "resume")
    assert resume["step"] >= saved > 0
    assert read_json(run_dir / "run.json")["status"] == "completed"
    again = labconsole("resume", run_dir.name, runs=tmp_path)
    assert again.returncode == 2 and "nothing to resume" in again.stderr


def test_a_foreground_run_whose_engine_is_killed_exits_1_and_says_so(tiny_city: Path, tmp_path: Path) -> None:
    command = [str(BINARY), "run", "demo", *tiny_overrides(tiny_city, 100_000), "--runs", str(tmp_path)]
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: any(p.is_dir() and _scalars_started(p) for p in tmp_path.iterdir()))
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    os.kill(read_json(run_dir / "run.json")["pid"], signal.SIGKILL)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 1, (out, err)
    assert "killed by SIGKILL" in err


def _scalars_started(run_dir: Path) -> bool:
    return (run_dir / "events.jsonl").is_file() and bool(_events(run_dir, "scalar"))


def _limit_file_size() -> None:
    """A disk that takes 64 KB per file: events and run.json fit, a checkpoint does not (EFBIG, not SIGXFSZ).

    Data loading stays in the engine process (data.workers=0): workers pass batches through shared-memory
    files, which the limit would break first.
    """
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_checkpoint_that_cannot_be_written_fails_the_run_in_one_line(
    tiny_city: Path, tmp_path: Path
) -> None:
    command = [
        str(BINARY),
        "run",
        "demo",
        *tiny_overrides(tiny_city, 6),
        "data.cache=off",
        "data.workers=0",
        "--runs",
        str(tmp_path),
    ]
    cli = subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    assert cli.returncode == 1, (cli.stdout, cli.stderr)
    assert "could not write checkpoint" in cli.stderr and "File too large" in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert read_json(run_dir / "run.json")["status"] == "failed"
    assert not list((run_dir / "checkpoints").glob("*.tmp"))


def test_events_that_cannot_be_written_fail_the_run_in_one_line(tiny_city: Path, tmp_path: Path) -> None:
    steps = [*tiny_overrides(tiny_city, 100_000), "train.checkpoint_minutes=0", "train.eval_at_start=false"]
    command = [
        str(BINARY),
        "run",
        "demo",
        *steps,
        "data.cache=off",
        "data.workers=0",
        "--runs",
        str(tmp_path),
    ]
    cli = subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    assert cli.returncode == 1, (cli.stdout, cli.stderr)
    assert "events.jsonl: File too large" in cli.stderr and "Traceback" not in cli.stderr, cli.stderr
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert read_json(run_dir / "run.json")["status"] == "failed"
