"""Stop, pause or resume a sweep (`labconsole sweep stop|pause|resume ID`, and the console).

The request is written in state.json under the sweep's lock; the queue reads it at its next look. Stop also
stops the running points itself, through each run's control channel as `labconsole stop` does (a Slurm run
still waiting in the queue has its job cancelled), so a stop works even when no queue is running.
"""

from __future__ import annotations

import os

from engine.core.errors import UserError
from engine.core.protocol import RunPaths, effective_status, read_json, send_control
from engine.core.sweep.plan import start_points
from engine.core.sweep.store import SweepPaths, locked, point_status, read_plan, read_state, write_state

ACTIONS = ("stop", "pause", "resume")


def request_sweep(runs_dir: str | os.PathLike[str], sweep_id: str, action: str) -> str:
    """Ask the sweep to stop, pause or resume; returns what was done, in words."""
    if action not in ACTIONS:
        raise UserError(f"sweep action {action!r} is not known: use one of {', '.join(ACTIONS)}")
    paths = SweepPaths.of(runs_dir, sweep_id)
    plan = read_plan(paths)
    if action == "pause":
        if plan.get("launcher") == "slurm":
            raise UserError(
                f"sweep {sweep_id} runs as a Slurm job array, which Slurm schedules: it cannot be paused "
                f"(labconsole sweep stop {sweep_id} cancels what has not started)"
            )
        with locked(paths):
            state = read_state(paths)
            state["paused"] = True
            write_state(paths, state)
        return f"sweep {sweep_id} paused: no new run starts; the running ones go on (resume: labconsole sweep resume {sweep_id})"
    if action == "stop":
        return _stop(paths)
    return _resume(paths)


def _stop(paths: SweepPaths) -> str:
    stopped, skipped = [], 0
    with locked(paths):
        state = read_state(paths)
        state.update(stop_requested=True, paused=False)
        for point in state["points"]:
            if point["status"] == "queued" and not point.get("run_id"):
                point["status"] = "skipped"
                skipped += 1
            elif point.get("run_id") and point_status(paths.runs_dir, point) in ("queued", "running"):
                stop_run(RunPaths(paths.runs_dir / point["run_id"]))
                stopped.append(point["run_id"])
        write_state(paths, state)
    return (
        f"sweep {paths.sweep_id} stopping: {len(stopped)} running run(s) sent stop, {skipped} not started "
        f"skipped (resume: labconsole sweep resume {paths.sweep_id})"
    )


def stop_run(run_paths: RunPaths) -> None:
    """Stop one run as `labconsole stop` does: a Slurm job still queued is cancelled; otherwise the engine is
    sent `stop` through its control channel (it checkpoints and ends as stopped)."""
    info = read_json(run_paths.run_json) or {}
    if info.get("slurm_job_id") and info.get("status") == "queued":
        from engine.core.slurm import cancel_queued_run

        cancel_queued_run(run_paths, info)
        return
    if effective_status(info) in ("queued", "running"):
        send_control(run_paths.control, "stop")


def _resume(paths: SweepPaths) -> str:
    again = 0
    with locked(paths):
        state = read_state(paths)
        state.update(stop_requested=False, paused=False)
        for point in state["points"]:
            status = point_status(paths.runs_dir, point)
            if status == "skipped":
                point["status"] = "queued"
                again += 1
            elif status == "stopped" and point.get("run_id"):
                point.update(status="queued", resume=True)
                again += 1
        write_state(paths, state)
        left = sum(p["status"] in ("queued", "running") for p in state["points"])
    if not left:
        return f"sweep {paths.sweep_id} has nothing left to run"
    start_points(paths)
    return (
        f"sweep {paths.sweep_id} resumed: {left} point(s) to run or follow ({again} continued or restarted)"
    )
