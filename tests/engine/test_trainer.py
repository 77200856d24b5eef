"""The training loop in-process on the tiny city: event sequence, seeds, evaluate-only, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.checkpoint import load_checkpoint
from engine.config import resolve_config
from engine.errors import UserError
from engine.protocol import ControlReader, EventWriter, create_run, iter_events, new_run_info, read_json, \
    write_json_atomic
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.trainer import Trainer
from tests.engine.conftest import tiny_overrides


def train(tmp_path: Path, root: Path, *extra: str, steps: int = 3) -> tuple[Path, str]:
    cfg = resolve_config("demo", [*tiny_overrides(root, steps), *extra])
    paths = create_run(tmp_path / "runs", "t")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "t", "vpr", [], max_steps=steps))
    runtime = make_runtime(cfg["device"])
    task = TASKS.build("vpr", cfg, runtime, seed_everything(cfg["train"]["seed"]))
    events = EventWriter(paths.events)
    status = Trainer(paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events)).run()
    events.close()
    return paths.root, status


def losses(run_dir: Path) -> list[float]:
    return [e["values"]["loss/total"] for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "scalar"]


def test_same_seed_same_losses_other_seed_differs(tmp_path: Path, tiny_city: Path) -> None:
    first, _ = train(tmp_path, tiny_city)
    second, _ = train(tmp_path, tiny_city)
    third, _ = train(tmp_path, tiny_city, "train.seed=1")
    assert losses(first) == losses(second)
    assert losses(first) != losses(third)


def test_scalar_events_carry_loss_components_lr_and_grad_norm(tmp_path: Path, tiny_city: Path) -> None:
    run_dir, status = train(tmp_path, tiny_city)
    assert status == "completed"
    scalars = [e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "scalar"]
    assert {"loss/total", "loss/multi_similarity", "grad_norm", "lr/backbone", "lr/aggregator", "lr/head"} <= set(
        scalars[0]["values"])
    system = next(e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "system")
    assert system["values"]["img_per_s"] > 0 and system["values"]["rss_mb"] > 0


def test_evaluate_only(tmp_path: Path, tiny_city: Path) -> None:
    run_dir, status = train(tmp_path, tiny_city, steps=0)
    events = list(iter_events(run_dir / "events.jsonl"))
    assert status == "completed"
    assert [e["split"] for e in events if e["kind"] == "eval"] == ["sim2real", "night", "sim2sim"]
    assert not [e for e in events if e["kind"] == "scalar"]
    assert read_json(run_dir / "run.json")["final"]["sim2real"]["R@1"] >= 0


def test_checkpoint_loads_with_weights_only_and_corrupt_file_is_a_user_error(tmp_path: Path, tiny_city: Path) -> None:
    run_dir, _ = train(tmp_path, tiny_city)
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert state["step"] == 3 and "model" in state["model"] and "sampler" in state["model"]
    assert isinstance(state["rng"]["torch"], torch.Tensor)
    broken = run_dir / "checkpoints" / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="unreadable or corrupt"):
        load_checkpoint(broken)
