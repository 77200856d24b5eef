"""Queue a sweep: check every point's config first (nothing is created for a bad one), write the sweep folder,
then hand the points to the local queue process or submit them to Slurm as one job array; and extend one."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.core.config import resolve_config
from engine.core.errors import UserError
from engine.core.launch import check_data, prepare_run, project_env, start_detached
from engine.core.protocol import RunPaths, update_run_info, write_json_atomic
from engine.core.protocol.checkpoints import newest_checkpoint
from engine.core.sweep.axes import Point, overrides_of, parse_assignments, point_text, points_of
from engine.core.sweep.spec import SweepSpec
from engine.core.sweep.store import (
    SweepPaths,
    create_sweep_folder,
    locked,
    queue_pid,
    read_plan,
    read_state,
    write_state,
)

QUEUE_MODULE = "engine.core.sweep.queue"
QUEUE_START_TIMEOUT_S = 20.0


def point_label(index: int, point: Point) -> str:
    return f"sweep point {index} ({' '.join(overrides_of(point))})"


def check_points(
    config: str, fixed: Sequence[str], points: Sequence[Point], first_index: int = 0
) -> list[dict[str, Any]]:
    """Every point's resolved config; the first bad one raises one line naming the point and the mistake.

    The data check (the engine's, in a subprocess) runs once per distinct data and eval sections.
    """
    configs = []
    for offset, point in enumerate(points):
        try:
            configs.append(resolve_config(config, [*fixed, *overrides_of(point)]))
        except UserError as exc:
            raise UserError(f"{point_label(first_index + offset, point)}: {exc}") from None
    launchers = {cfg["device"].get("launcher", "local") for cfg in configs}
    if len(launchers) > 1:
        raise UserError(
            "a sweep runs all its points one way: device.launcher cannot be one of the swept keys"
        )
    checked: set[str] = set()
    for offset, cfg in enumerate(configs):
        key = json.dumps([cfg["data"], cfg["eval"]], sort_keys=True, default=str)
        if key in checked:
            continue
        try:
            check_data(cfg)
        except UserError as exc:
            raise UserError(f"{point_label(first_index + offset, points[offset])}: {exc}") from None
        checked.add(key)
    return configs


def create_sweep(runs_dir: Path, spec: SweepSpec, argv: Sequence[str] = ()) -> SweepPaths:
    """Check every point, write `<runs>/.sweeps/<id>/` (plan + state), and start the points."""
    points = spec.points()
    baseline = spec.baseline_index(points)
    configs = check_points(spec.config, spec.overrides, points)
    launcher = configs[0]["device"].get("launcher", "local")
    if launcher == "slurm":
        from engine.core.slurm import require_sbatch

        require_sbatch()
    paths = create_sweep_folder(runs_dir, spec.name)
    plan = {
        "id": paths.sweep_id,
        "name": spec.name,
        "created": time.time(),
        "config": spec.config,
        "overrides": list(spec.overrides),
        "mode": spec.mode,
        "axes": spec.axes,
        "parallel": spec.parallel,
        "baseline_index": baseline,
        "launcher": launcher,
        "argv": list(argv),
        "cwd": os.getcwd(),  # relative paths in the overrides mean the same when a later resume starts the queue
    }
    state = {
        "id": paths.sweep_id,
        "paused": False,
        "stop_requested": False,
        "points": [
            {"index": i, "varied": p, "run_id": None, "status": "queued"} for i, p in enumerate(points)
        ],
    }
    write_json_atomic(paths.plan, plan)
    write_state(paths, state)
    start_points(paths)
    return paths


def start_points(paths: SweepPaths) -> None:
    """Local: start the queue process (unless one runs). Slurm: submit the queued points as one job array."""
    plan = read_plan(paths)
    if plan.get("launcher") == "slurm":
        submit_queued_points(paths)
    elif queue_pid(paths) is None:
        start_queue(paths)


def start_queue(paths: SweepPaths) -> int:
    """`python -m engine.core.sweep.queue FOLDER` in its own session (closing the console or losing SSH never
    stops it); returns once it holds its pid file, with its pid."""
    cwd = read_plan(paths).get("cwd")
    with open(paths.queue_log, "ab") as log:
        process = start_detached(
            [sys.executable, "-m", QUEUE_MODULE, str(paths.root)],
            log,
            project_env(),
            cwd=cwd if isinstance(cwd, str) and os.path.isdir(cwd) else None,
        )
    deadline = time.monotonic() + QUEUE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        pid = queue_pid(paths)
        if pid is not None:
            return pid
        if process.poll() is not None:
            break
        time.sleep(0.05)
    if process.poll() is None:
        return process.pid
    tail = paths.queue_log.read_text(errors="replace").strip().splitlines()
    raise UserError(
        f"the sweep queue did not start: {tail[-1] if tail else f'exit code {process.returncode}'}"
    )


def run_name(sweep_name: str, index: int, point: Point) -> str:
    """`lr-sweep-3 lr=3e-3 aggregator=gem`: the sweep, the point, and what it varies (last key part)."""
    return f"{sweep_name}-{index} {point_text(point)}"


def prepare_point(paths: SweepPaths, plan: dict[str, Any], point: dict[str, Any], total: int) -> RunPaths:
    """The point's run folder (config.yaml and a queued run.json that carries the sweep)."""
    varied = dict(point["varied"])
    overrides = [*plan.get("overrides", []), *overrides_of(varied)]
    name = run_name(str(plan["name"]), int(point["index"]), varied)
    run_paths, _ = prepare_run(
        plan["config"],
        overrides,
        paths.runs_dir,
        name,
        argv=["labconsole", "run", str(plan["config"]), *overrides, "--name", name],
        sweep={
            "id": paths.sweep_id,
            "name": plan["name"],
            "index": int(point["index"]),
            "total": total,
            "varied": varied,
        },
    )
    return run_paths


def submit_queued_points(paths: SweepPaths) -> None:
    """Slurm: every queued point submitted together as one job array (a point to resume continues its run from
    its checkpoint; the others get a run prepared here)."""
    from engine.core.slurm import submit_engine_array

    plan = read_plan(paths)
    with locked(paths):
        state = read_state(paths)
        runs = []
        for point in state["points"]:
            if point["status"] != "queued":
                continue
            resumed = resumable(paths, point)
            if resumed is not None:
                update_run_info(resumed.run_json, status="queued", ended=None, error=None)
                runs.append((resumed, True))
            else:
                resumed = prepare_point(paths, plan, point, len(state["points"]))
                runs.append((resumed, False))
            point.pop("resume", None)
            point.update(run_id=resumed.run_id, status="running")
        write_state(paths, state)
    if runs:
        submit_engine_array(runs, int(plan.get("parallel") or 1), paths.root / "slurm", paths.queue_log)


def resumable(paths: SweepPaths, point: dict[str, Any]) -> RunPaths | None:
    """The point's run, when it is to continue and has a checkpoint to continue from."""
    if not point.get("resume") or not point.get("run_id"):
        return None
    run_paths = RunPaths(paths.runs_dir / point["run_id"])
    return run_paths if newest_checkpoint(run_paths) is not None else None


def extend_sweep(runs_dir: str | os.PathLike[str], sweep_id: str, assignments: list[str]) -> list[int]:
    """More values for the sweep's keys (["optim.lr=1e-2"]): the points they add (indexes) are checked, queued
    and started (the queue restarts when it had finished)."""
    paths = SweepPaths.of(runs_dir, sweep_id)
    plan = read_plan(paths)
    added, fixed = parse_assignments(assignments)
    for item in fixed:
        key, _, value = item.partition("=")
        added[key] = [value]
    axes: dict[str, list[str]] = {k: list(v) for k, v in plan["axes"].items()}
    unknown = [key for key in added if key not in axes]
    if unknown:
        raise UserError(
            f"sweep {sweep_id} varies {', '.join(axes)}: {unknown[0]} is not one of them "
            "(a new key is a new sweep)"
        )
    for key, values in added.items():
        axes[key] += [v for v in values if v not in axes[key]]
    with locked(paths):
        state = read_state(paths)
        existing = [dict(p["varied"]) for p in state["points"]]
        new_points = [p for p in points_of(axes, plan["mode"]) if p not in existing]
        if not new_points:
            raise UserError(f"sweep {sweep_id} already has every point these values make")
        first = len(state["points"])
        check_points(plan["config"], plan.get("overrides", []), new_points, first)
        for offset, point in enumerate(new_points):
            state["points"].append(
                {"index": first + offset, "varied": point, "run_id": None, "status": "queued"}
            )
        state["stop_requested"] = False
        plan["axes"] = axes
        write_json_atomic(paths.plan, plan)
        write_state(paths, state)
    start_points(paths)
    return list(range(first, first + len(new_points)))
