"""Hand-made sweeps for console tests: run folders whose run.json carry "sweep", and the sweep's folder
(`<runs>/.sweeps/<id>/sweep.json` + `state.json`) as the sweep queue writes them."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.tui.fixtures import FROZEN_NOW, HOUR, make_run, update_run


def make_sweep(
    runs_dir: Path,
    name: str,
    axes: Mapping[str, Sequence[str]],
    statuses: Sequence[str],
    scores: Sequence[float | None],
    sweep_id: str | None = None,
    started: float = FROZEN_NOW - 3 * HOUR,
) -> tuple[str, list[Path]]:
    """A grid sweep over `axes`; point i gets statuses[i] and scores[i] (a queued point has no run folder).

    Returns the sweep id and the run folders made, in point order.
    """
    sweep_id = sweep_id or f"20251009-054000-{name}"
    points = [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    folders: list[Path] = []
    state_points = []
    for index, (varied, status, score) in enumerate(zip(points, statuses, scores)):
        run_id = None
        if status != "queued":
            suffix = "-".join(v.replace(".", "_") for v in varied.values())
            folder = make_run(
                runs_dir,
                f"{name}-{suffix}",
                status,
                score=score,
                started=started + index * 600,
                duration=HOUR / 2,
                run_id=f"{sweep_id}-{index:03d}",
                events=False,
            )
            total = len(points)
            update_run(
                folder,
                sweep={"id": sweep_id, "name": name, "index": index, "total": total, "varied": dict(varied)},
            )
            folders.append(folder)
            run_id = folder.name
        state_points.append({"index": index, "varied": dict(varied), "run_id": run_id, "status": status})
    root = runs_dir / ".sweeps" / sweep_id
    root.mkdir(parents=True, exist_ok=True)
    plan = {
        "id": sweep_id,
        "name": name,
        "config": "demo",
        "mode": "grid",
        "parallel": 2,
        "launcher": "local",
        "axes": {k: list(v) for k, v in axes.items()},
        "overrides": [],
        "baseline_index": 0,
        "created": started - 10,
    }
    (root / "sweep.json").write_text(json.dumps(plan, indent=2), encoding="utf-8")
    state = {"points": state_points, "paused": False, "stop_requested": False, "updated": started}
    (root / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
    return sweep_id, folders
