"""Start a run: resolve its config, create the run folder, and start the engine detached (torch-free)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.config import dump_config, resolve_config
from engine.protocol import RunPaths, create_run, new_run_info, resolve_runs_dir, update_run_info, write_json_atomic


def prepare_run(config: str | Path | dict, overrides: Sequence[str] = (), runs_dir: Path | None = None,
                name: str | None = None, argv: Sequence[str] | None = None) -> tuple[RunPaths, dict[str, Any]]:
    """Validate first (nothing is created for a bad config), then write config.yaml and a queued run.json."""
    cfg = resolve_config(config, list(overrides))
    if name:
        cfg["name"] = name
    paths = create_run(resolve_runs_dir(runs_dir), cfg["name"])
    paths.config.write_text(dump_config(cfg), encoding="utf-8")
    info = new_run_info(paths.run_id, cfg["name"], cfg["task"]["name"], list(argv or sys.argv),
                        tags=cfg["tags"], max_steps=cfg["train"]["max_steps"])
    write_json_atomic(paths.run_json, info)
    return paths, cfg


def start_worker(paths: RunPaths, resume: bool = False) -> subprocess.Popen[bytes]:
    """Start `python -m engine.worker` in its own session: closing the console or losing SSH never kills it."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    project_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [project_root, env.get("PYTHONPATH", "")]))
    with open(paths.output_log, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "engine.worker", str(paths.root),
                                    *(["--resume"] if resume else [])],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, close_fds=True, env=env)
    update_run_info(paths.run_json, pid=process.pid)
    return process


def launch_run(config: str | Path | dict, overrides: Sequence[str] = (), runs_dir: Path | None = None,
               name: str | None = None, argv: Sequence[str] | None = None) -> RunPaths:
    """Prepare and start a run; returns at once with its paths (the engine writes progress there)."""
    paths, _ = prepare_run(config, overrides, runs_dir, name, argv)
    process = start_worker(paths)
    # reap the child when it ends so a long-lived console never shows it as a zombie
    threading.Thread(target=process.wait, name=f"reap-{paths.run_id}", daemon=True).start()
    return paths
