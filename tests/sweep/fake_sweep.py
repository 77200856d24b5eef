"""Hand-made sweeps for tests: a sweep folder and run folders with run.json written directly (no training)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.core.protocol import create_run, new_run_info, write_json_atomic
from engine.core.sweep.axes import points_of
from engine.core.sweep.store import SweepPaths, create_sweep_folder, write_state

VPR_ORDER = ["R@1", "R@5", "R@10", "R@20"]


def make_sweep(
    runs_dir: Path,
    axes: Mapping[str, Sequence[str]],
    results: Sequence[Mapping[str, Mapping[str, float]] | None],
    *,
    statuses: Sequence[str] | None = None,
    name: str = "fake-sweep",
    baseline_index: int = 0,
    mode: str = "grid",
    main_metric: str = "R@1",
    metric_order: Sequence[str] = VPR_ORDER,
) -> SweepPaths:
    """A sweep whose i-th point has a run with run.json `best` = results[i] (None: a point not started)."""
    paths = create_sweep_folder(runs_dir, name)
    points = points_of({k: list(v) for k, v in axes.items()}, mode)
    assert len(points) == len(results)
    statuses = statuses or ["completed" if r is not None else "queued" for r in results]
    plan: dict[str, Any] = {
        "id": paths.sweep_id,
        "name": name,
        "created": time.time(),
        "config": "demo",
        "overrides": [],
        "mode": mode,
        "axes": {k: list(v) for k, v in axes.items()},
        "parallel": 2,
        "baseline_index": baseline_index,
        "launcher": "local",
    }
    state_points = []
    for index, (point, result, status) in enumerate(zip(points, results, statuses)):
        run_id = None
        if result is not None:
            run = create_run(runs_dir, f"{name}-{index}")
            info = new_run_info(
                run.run_id,
                f"{name}-{index}",
                "vpr",
                [],
                sweep={
                    "id": paths.sweep_id,
                    "name": name,
                    "index": index,
                    "total": len(points),
                    "varied": point,
                },
            )
            info.update(status=status, best=dict(result), final=dict(result), main_metric=main_metric)
            info["metric_order"] = list(metric_order)
            write_json_atomic(run.run_json, info)
            run_id = run.run_id
        state_points.append({"index": index, "varied": point, "run_id": run_id, "status": status})
    write_json_atomic(paths.plan, plan)
    write_state(
        paths, {"id": paths.sweep_id, "paused": False, "stop_requested": False, "points": state_points}
    )
    return paths
