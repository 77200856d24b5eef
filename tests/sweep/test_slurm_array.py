"""A Slurm sweep is ONE job array: every queued point submitted in one submitit batch, the array's parallelism
the sweep's (a stand-in submitit records what would be sent; no Slurm, no training)."""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.core import slurm
from engine.core.protocol import RunPaths, create_run, new_run_info, read_json, write_json_atomic
from engine.core.sweep import plan as plan_module
from engine.core.sweep.store import SweepPaths, read_plan, read_state
from tests.sweep.fake_sweep import make_sweep


class FakeExecutor:
    made: list[FakeExecutor] = []

    def __init__(self, folder: Path, cluster: str) -> None:
        self.folder, self.cluster = folder, cluster
        self.parameters: dict[str, Any] = {}
        self.batches: list[list[tuple[str, bool]]] = []
        self.submitted: list[tuple[str, bool]] = []
        FakeExecutor.made.append(self)

    def update_parameters(self, **parameters: Any) -> None:
        self.parameters.update(parameters)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        self.submitted = []
        yield
        self.batches.append(self.submitted)

    def submit(self, fn: Any, run_dir: str, resume: bool) -> Any:
        self.submitted.append((Path(run_dir).name, resume))
        return types.SimpleNamespace(job_id=f"777_{len(self.submitted) - 1}")


def test_queued_points_go_as_one_array(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slurm, "_submitit", lambda: types.SimpleNamespace(AutoExecutor=FakeExecutor))
    monkeypatch.setattr(slurm, "require_sbatch", lambda: None)
    monkeypatch.delenv(slurm.CLUSTER_ENV, raising=False)

    def prepare_point(paths: SweepPaths, plan: dict, point: dict, total: int) -> RunPaths:
        run = create_run(paths.runs_dir, f"p{point['index']}")
        run.config.write_text(yaml.safe_dump({"device": {"name": "cuda", "processes": 1}}))
        write_json_atomic(run.run_json, new_run_info(run.run_id, "p", "vpr", []))
        return run

    monkeypatch.setattr(plan_module, "prepare_point", prepare_point)
    paths = make_sweep(tmp_path, {"optim.lr": ["1e-3", "3e-3", "1e-2"]}, [None, None, None])
    plan = read_plan(paths)
    write_json_atomic(paths.plan, {**plan, "launcher": "slurm", "parallel": 2})

    plan_module.start_points(paths)

    (executor,) = FakeExecutor.made
    assert len(executor.batches) == 1 and len(executor.batches[0]) == 3
    assert not any(resume for _, resume in executor.batches[0])
    assert executor.parameters["slurm_array_parallelism"] == 2
    assert executor.parameters["name"] == f"labconsole-sweep-{paths.sweep_id}"
    assert executor.folder == paths.root / "slurm"
    points = read_state(paths)["points"]
    assert [p["status"] for p in points] == ["running"] * 3
    infos = [read_json(tmp_path / p["run_id"] / "run.json") for p in points]
    assert [i["slurm_job_id"] for i in infos] == ["777_0", "777_1", "777_2"]
    assert all(i["launcher"] == "slurm" for i in infos)
