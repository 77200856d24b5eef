"""Slurm launching through submitit: submit the engine process, follow the job, cancel it (torch-free).

The job runs the same entry point as a local run (`engine.process.main`), one task per training process;
submitit's TorchDistributedEnvironment gives the tasks the env:// variables torchrun would have set.
LABCONSOLE_SLURM_CLUSTER=local runs this very path with submitit's local executor (no Slurm needed: tests).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from engine.core.errors import UserError
from engine.core.protocol import RunPaths, update_run_info

CLUSTER_ENV = "LABCONSOLE_SLURM_CLUSTER"
"""submitit cluster behind device.launcher=slurm: "slurm" (default) or "local" (same path, on this machine)."""

CLUSTERS = ("slurm", "local")


def cluster() -> str:
    """The submitit cluster to submit to (see CLUSTER_ENV)."""
    name = os.environ.get(CLUSTER_ENV, "slurm") or "slurm"
    if name not in CLUSTERS:
        raise UserError(f"{CLUSTER_ENV}={name} is not supported; use one of: {', '.join(CLUSTERS)}")
    return name


def require_sbatch() -> None:
    """Slurm submission needs submitit and sbatch on PATH (a login node); say so on one line instead of failing
    later, after a run folder was made."""
    _submitit()  # raises, naming the extra, on a console-only install
    if cluster() == "slurm" and shutil.which("sbatch") is None:
        raise UserError(
            "Slurm launcher: sbatch not found on this machine (device.launcher=slurm submits from a "
            "Slurm login node; use device.launcher=local here)"
        )


def gpus_per_node(device: dict[str, Any]) -> int:
    """GPUs to request: the configured number, else one per process unless the run is CPU-only."""
    if device.get("slurm_gpus_per_node"):
        return int(device["slurm_gpus_per_node"])
    return 0 if device["name"] == "cpu" else int(device.get("processes", 1))


def executor_parameters(paths: RunPaths, device: dict[str, Any]) -> dict[str, Any]:
    """submitit AutoExecutor parameters: generic ones plus slurm_* (ignored by the local executor)."""
    params: dict[str, Any] = {
        "name": f"labconsole-{paths.run_id}",
        "timeout_min": int(device.get("slurm_time_min", 240)),
        "nodes": 1,
        "tasks_per_node": int(device.get("processes", 1)),  # one task per training process (rank)
        "gpus_per_node": gpus_per_node(device),
        "cpus_per_task": int(device.get("slurm_cpus_per_task", 8)),
        # SIGUSR2 2 minutes before the time limit: the engine checkpoints and ends as interrupted (then resume)
        "slurm_signal_delay_s": 120,
    }
    if device.get("slurm_mem_gb"):
        params["mem_gb"] = int(device["slurm_mem_gb"])
    for key in ("partition", "account", "qos"):
        if device.get(f"slurm_{key}"):
            params[f"slurm_{key}"] = str(device[f"slurm_{key}"])
    return params


class SlurmEngine:
    """A submitted run, with the subset of subprocess.Popen that following a run uses (poll, wait, send_signal)."""

    def __init__(self, job: Any, run_info: dict[str, Any]) -> None:
        self.job = job
        self.run_info = run_info
        self.pid = None  # the engine runs elsewhere: run.json gets its pid and host when it starts
        self.returncode: int | None = None

    @property
    def child(self) -> Any:
        """The local executor's controller process (to reap), or None on Slurm."""
        return getattr(self.job, "_process", None)

    def poll(self) -> int | None:
        """None while the job is queued or running, else the engine process's exit code."""
        if self.returncode is None and self.job.done():
            self.returncode = self._exit_code()
        return self.returncode

    def wait(self) -> int:
        """Block until the job ends; the engine process's exit code."""
        while self.poll() is None:
            time.sleep(1.0)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, _signum: int) -> None:
        """Ctrl-C in the foreground: cancel the job (Slurm sends SIGTERM first: the engine checkpoints)."""
        cancel_job(self.run_info)

    def _exit_code(self) -> int:
        """Rank 0's return value (0, 1 or 2); 1 when the job died without one (cancelled, killed, node failure)."""
        try:
            result = self.job.task(0).result()
        except Exception:  # submitit raises its own types for failed and cancelled jobs
            return 1
        return result if isinstance(result, int) else 1


def _submitit() -> Any:
    """submitit, or a UserError saying which extra brings it (a console-only install has none)."""
    try:
        import submitit
    except ImportError:
        raise UserError(
            "device.launcher: slurm submits with submitit, which comes with the engine extra: "
            "pip install 'labconsole[engine]'"
        ) from None
    return submitit


def submit_engine(paths: RunPaths, device: dict[str, Any], resume: bool = False) -> SlurmEngine:
    """Submit the run; run.json stays `queued` (as prepared) with the job id and submitit's folder until it starts."""
    submitit = _submitit()
    require_sbatch()
    folder = Path(device.get("slurm_folder") or paths.root / "slurm")
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster())
    executor.update_parameters(**executor_parameters(paths, device))
    # before submitting, so the job can never be overwritten by these: a resumed run forgets its old pid
    update_run_info(
        paths.run_json, pid=None, launcher="slurm", slurm_cluster=cluster(), slurm_folder=str(folder)
    )
    if cluster() == "local":
        # the local executor's controller inherits our stdout/stderr: give it the run's log, not the caller's
        # terminal or pipes (a caller reading them to the end would wait for the whole run)
        with _output_to(paths.output_log):
            job = executor.submit(run_engine_task, str(paths.root), resume)
    else:
        job = executor.submit(run_engine_task, str(paths.root), resume)
    info = update_run_info(paths.run_json, slurm_job_id=str(job.job_id))  # status: queued, or already running
    return SlurmEngine(job, info)


def submit_engine_array(
    runs: list[tuple[RunPaths, bool]], parallel: int, folder: Path, log: Path
) -> list[SlurmEngine]:
    """A sweep's runs (each with whether it resumes) submitted together as ONE Slurm job array (submitit's
    batch), at most `parallel` of them running at a time; each run.json gets its array task's job id.

    The job takes its resources from the first run's device section (a sweep runs all its points one way).
    """
    submitit = _submitit()
    require_sbatch()
    first = runs[0][0]
    device = yaml.safe_load(first.config.read_text(encoding="utf-8"))["device"]
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster())
    params = executor_parameters(first, device)
    params["name"] = f"labconsole-sweep-{folder.parent.name}"
    params["slurm_array_parallelism"] = int(parallel)
    executor.update_parameters(**params)
    for paths, _ in runs:
        update_run_info(
            paths.run_json, pid=None, launcher="slurm", slurm_cluster=cluster(), slurm_folder=str(folder)
        )
    with contextlib.ExitStack() as stack:
        if cluster() == "local":  # the local controllers inherit our stdout/stderr: give them the sweep's log
            stack.enter_context(_output_to(log))
        with executor.batch():
            jobs = [executor.submit(run_engine_task, str(paths.root), resume) for paths, resume in runs]
    engines = []
    for (paths, _), job in zip(runs, jobs):
        info = update_run_info(paths.run_json, slurm_job_id=str(job.job_id))
        engines.append(SlurmEngine(job, info))
    return engines


def cancel_job(info: dict[str, Any]) -> None:
    """Cancel a run's job: scancel on Slurm (SIGTERM, then SIGKILL after the cluster's grace time)."""
    job_id = str(info.get("slurm_job_id") or "")
    if not job_id:
        raise UserError("this run was not submitted to Slurm (run.json has no slurm_job_id)")
    if info.get("slurm_cluster") == "local":
        # the local executor's job id is its controller's pid; SIGTERM is forwarded to every task
        with contextlib.suppress(ProcessLookupError):  # already finished
            os.kill(int(job_id), signal.SIGTERM)
        return
    if shutil.which("scancel") is None:
        raise UserError(f"cannot cancel Slurm job {job_id}: scancel not found on this machine")
    # scancel itself (what submitit's cancel runs): the console needs no engine extra for this
    subprocess.run(["scancel", job_id], check=False, capture_output=True)


def cancel_queued_run(paths: RunPaths, info: dict[str, Any]) -> str:
    """Cancel the job of a run still waiting in the queue and record the run as stopped; returns what happened."""
    from engine.core.protocol import EventWriter

    cancel_job(info)
    message = f"Slurm job {info['slurm_job_id']} cancelled before it started"
    with EventWriter(paths.events) as events:
        events.emit("status", status="stopped", message=message)
    update_run_info(paths.run_json, status="stopped", ended=time.time(), error=None)
    return message


def run_engine_task(run_dir: str, resume: bool) -> int:
    """Inside the job, once per task: set up torch.distributed's env:// variables, then run the engine process.

    Output is appended to the run's output.log (like a local run), not only to submitit's log files.
    """
    import submitit

    environment = submitit.helpers.TorchDistributedEnvironment()
    if environment.world_size > 1:
        # keep every allocated GPU visible: the engine process takes cuda:LOCAL_RANK, as under torchrun
        environment.export(set_cuda_visible_devices=False, overwrite=True)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from engine.core.launch import ENGINE_PROCESS

    # by name, as `python -m` starts it locally: in this process, so Slurm's signals reach the engine itself
    engine_process = importlib.import_module(ENGINE_PROCESS)
    with _output_to(RunPaths(Path(run_dir)).output_log):
        return engine_process.main([run_dir, *(["--resume"] if resume else [])])


class _output_to:
    """Point this process's stdout and stderr (file descriptors 1 and 2) at a log file, then back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved: list[int] = []

    def __enter__(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        log = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self.saved = [os.dup(1), os.dup(2)]
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)
