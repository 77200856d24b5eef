"""Start a run: resolve its config, create the run folder, and start the engine detached or on Slurm (torch-free)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import yaml

from engine.core.config import dump_config, resolve_config
from engine.core.engine_calls import call_engine
from engine.core.protocol import (
    RunPaths,
    create_run,
    new_run_info,
    resolve_runs_dir,
    update_run_info,
    write_json_atomic,
)
from engine.core.protocol.rundir import folder_error

#: The engine's entry point, started by name (`python -m`, or imported inside a Slurm job): the core never
#: imports engine code, it starts it.
ENGINE_PROCESS = "engine.process"


def prepare_run(
    config: str | Path | dict,
    overrides: Sequence[str] = (),
    runs_dir: Path | None = None,
    name: str | None = None,
    argv: Sequence[str] | None = None,
    sweep: dict[str, Any] | None = None,
) -> tuple[RunPaths, dict[str, Any]]:
    """Validate first (nothing is created for a bad config or data the engine cannot read), then write config.yaml
    and a queued run.json (with `sweep`: {id, name, index, total, varied} for a point of a sweep)."""
    cfg = resolve_config(config, list(overrides))
    check_data(cfg)
    if name:
        cfg["name"] = name
    paths = create_run(resolve_runs_dir(runs_dir), cfg["name"])
    info = new_run_info(
        paths.run_id,
        cfg["name"],
        cfg["task"]["name"],
        list(argv or sys.argv),
        tags=cfg["tags"],
        max_steps=cfg["train"]["max_steps"],
        sweep=sweep,
    )
    try:
        paths.config.write_text(dump_config(cfg), encoding="utf-8")
        write_json_atomic(paths.run_json, info)
    except OSError as exc:  # a full disk or a quota: the folder exists but cannot hold the run
        raise folder_error("cannot write the run folder", paths.root, exc) from None
    return paths, cfg


def check_data(cfg: dict[str, Any]) -> None:
    """The engine's data check: data.root and every test set hold a layout it reads (a few names per folder)."""
    call_engine("engine.check", cfg, ["--data-only"])


EngineHandle = Any
"""What start_engine returns: a subprocess.Popen (local) or an engine.core.slurm.SlurmEngine; both poll/wait/send_signal."""


def start_engine(paths: RunPaths, resume: bool = False) -> EngineHandle:
    """Start the engine for a prepared run folder, as its config's device section says.

    Local: `python -m engine.process` in its own session (closing the console or losing SSH never kills it), under
    torchrun with device.processes > 1. Slurm: submitted through submitit; the run stays queued until it starts.
    """
    device = yaml.safe_load(paths.config.read_text(encoding="utf-8"))["device"]
    if device.get("launcher", "local") == "slurm":
        from engine.core.slurm import submit_engine

        return submit_engine(paths, device, resume)
    env = project_env()
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    processes = int(device.get("processes", 1))
    if processes > 1:
        # torchrun would set 1 thread per process with a banner; the engine sets its own share of the cores
        env.setdefault(
            "OMP_NUM_THREADS", str(device.get("threads") or max(1, (os.cpu_count() or 1) // processes))
        )
    try:
        log = open(paths.output_log, "ab")  # noqa: SIM115 (closed below, once the child holds it)
    except OSError as exc:
        raise folder_error("cannot write the run folder", paths.root, exc) from None
    with log:
        process = start_detached(engine_command(paths, processes, resume), log, env)
    # pid: the launcher's until the engine (rank 0) writes its own; launcher_pid leads the process group, and
    # SIGTERM to it reaches every rank (torchrun forwards it)
    update_run_info(paths.run_json, pid=process.pid, launcher="local", launcher_pid=process.pid)
    return process


def project_env() -> dict[str, str]:
    """This environment for a child started by name (`python -m ...`): unbuffered output, the project importable."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    project_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [project_root, env.get("PYTHONPATH", "")]))
    return env


def start_detached(
    command: list[str], log: IO[bytes], env: dict[str, str], cwd: str | None = None
) -> subprocess.Popen[bytes]:
    """`command` in its own session, output to `log`: closing the console or losing SSH never stops it."""
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
        env=env,
        cwd=cwd,
    )


def engine_command(paths: RunPaths, processes: int, resume: bool = False) -> list[str]:
    """The engine's command line: one process, or torchrun starting `processes` of them on this machine."""
    engine = ["-m", ENGINE_PROCESS, str(paths.root), *(["--resume"] if resume else [])]
    if processes <= 1:
        return [sys.executable, *engine]
    # --standalone: a private rendezvous on a free local port, so several DDP runs can share the machine
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        *engine,
    ]


def launch_run(
    config: str | Path | dict,
    overrides: Sequence[str] = (),
    runs_dir: Path | None = None,
    name: str | None = None,
    argv: Sequence[str] | None = None,
) -> RunPaths:
    """Prepare and start a run; returns at once with its paths (the engine writes progress there)."""
    paths, _ = prepare_run(config, overrides, runs_dir, name, argv)
    engine = start_engine(paths)
    child = engine if isinstance(engine, subprocess.Popen) else getattr(engine, "child", None)
    if isinstance(child, subprocess.Popen):
        # reap the child when it ends so a long-lived console never shows it as a zombie
        threading.Thread(target=child.wait, name=f"reap-{paths.run_id}", daemon=True).start()
    return paths
