"""device.launcher=slurm through the real CLI, on submitit's local executor (same code path, no Slurm needed)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.core.protocol import create_run, iter_events, new_run_info, read_json, write_json_atomic
from engine.core.slurm import CLUSTER_ENV, executor_parameters
from tests.cli.conftest import tiny_overrides
from tests.cli.test_cli_e2e import labconsole
from tests.cli.test_steering_e2e import scalars, wait_for

SLURM = ["device.launcher=slurm", "device.name=cpu"]


@pytest.fixture
def local_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLUSTER_ENV, "local")


@pytest.mark.slow
def test_submitted_ddp_run_completes_and_writes_its_events(
    tiny_city: Path, tmp_path: Path, local_cluster: None
) -> None:
    done = labconsole("run", "demo", *tiny_overrides(tiny_city), *SLURM, "device.processes=2", runs=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "queued as Slurm job" in done.stderr
    run_dir = tmp_path / done.stdout.strip().splitlines()[-1]
    info = read_json(run_dir / "run.json")
    assert info["status"] == "completed" and info["launcher"] == "slurm" and info["slurm_cluster"] == "local"
    assert info["slurm_job_id"] and Path(info["slurm_folder"]) == run_dir / "slurm"
    assert info["world_size"] == 2  # two submitit tasks joined one process group through env://
    events = list(iter_events(run_dir / "events.jsonl"))
    assert [e["step"] for e in events if e["kind"] == "scalar"] == [1, 2, 3, 4]
    assert [e["status"] for e in events if e["kind"] == "status"] == ["running", "completed"]
    assert all(e["ranks_in_sync"] for e in events if e["kind"] == "checkpoint" and not e["best"])
    assert (
        "completed" in (run_dir / "output.log").read_text()
    )  # the job's output lands where a local run's does
    assert list((run_dir / "slurm").glob(f"{info['slurm_job_id']}_0_log.out"))


@pytest.mark.slow
def test_stop_ends_a_running_slurm_run_gracefully(
    tiny_city: Path, tmp_path: Path, local_cluster: None
) -> None:
    started = labconsole(
        "run", "demo", *tiny_overrides(tiny_city, 100_000), *SLURM, "--detach", runs=tmp_path
    )
    assert started.returncode == 0, started.stderr
    run_dir = tmp_path / started.stdout.strip()
    wait_for(lambda: len(scalars(run_dir)) >= 1)
    stopped = labconsole("stop", run_dir.name, runs=tmp_path)
    assert stopped.returncode == 0 and "applied at step" in stopped.stdout, stopped.stderr
    wait_for(lambda: read_json(run_dir / "run.json")["status"] == "stopped")
    assert (run_dir / "checkpoints" / "last.pt").is_file()


def test_stop_cancels_a_queued_slurm_job(tmp_path: Path) -> None:
    # a job that has not started yet: the local executor's job id is its controller's pid, here a stand-in
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        paths = create_run(tmp_path, "queued")
        write_json_atomic(
            paths.run_json,
            {
                **new_run_info(paths.run_id, "queued", "vpr", []),
                "launcher": "slurm",
                "slurm_job_id": str(job.pid),
                "slurm_cluster": "local",
                "slurm_folder": str(paths.root / "slurm"),
            },
        )
        done = labconsole("stop", paths.run_id, runs=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"Slurm job {job.pid} cancelled before it started" in done.stdout
        assert job.wait(timeout=10) != 0  # terminated by SIGTERM
        info = read_json(paths.run_json)
        assert info["status"] == "stopped" and info["ended"] <= time.time()
        assert [e["status"] for e in iter_events(paths.events) if e["kind"] == "status"] == ["stopped"]
    finally:
        job.kill()


def test_slurm_without_sbatch_exits_2_and_creates_nothing(
    tiny_city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CLUSTER_ENV, raising=False)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no sbatch anywhere on it
    done = labconsole("run", "demo", *tiny_overrides(tiny_city), *SLURM, runs=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "Slurm launcher: sbatch not found on this machine" in done.stderr
    assert not list(tmp_path.iterdir())


def test_too_few_gpus_requested_for_the_processes_is_a_config_error(
    tiny_city: Path, tmp_path: Path, local_cluster: None
) -> None:
    done = labconsole(
        "check",
        "demo",
        *tiny_overrides(tiny_city),
        "device.launcher=slurm",
        "device.name=cuda",
        "device.processes=4",
        "device.slurm_gpus_per_node=2",
        "--no-model",
        runs=tmp_path,
    )
    assert done.returncode == 2 and "device.slurm_gpus_per_node: 2 GPUs for 4 processes" in done.stderr


def test_executor_parameters_map_the_device_section() -> None:
    from engine.core.config import resolve_config
    from engine.core.protocol import RunPaths

    device = resolve_config(
        "demo",
        [
            "device.name=cuda",
            "device.processes=4",
            "device.slurm_partition=gpu",
            "device.slurm_account=lab",
            "device.slurm_mem_gb=64",
        ],
        check_paths=False,
    )["device"]
    params = executor_parameters(RunPaths(Path("/runs/r1")), device)
    assert params["tasks_per_node"] == 4 and params["gpus_per_node"] == 4 and params["nodes"] == 1
    assert params["slurm_partition"] == "gpu" and params["slurm_account"] == "lab" and params["mem_gb"] == 64
    assert params["timeout_min"] == device["slurm_time_min"] and "slurm_qos" not in params
