"""The training loop in-process on the tiny city: event sequence, seeds, evaluate-only, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.checkpoint import load_checkpoint
from engine.core.config import resolve_config
from engine.core.errors import UserError
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    read_json,
    write_json_atomic,
)
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.trainer import Trainer
from tests.engine.conftest import tiny_overrides


def train(tmp_path: Path, root: Path, *extra: str, steps: int = 3, patch=None) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    cfg = resolve_config("demo", [*tiny_overrides(root, steps), *extra])
    paths = create_run(tmp_path / "runs", "t")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "t", "vpr", [], max_steps=steps))
    runtime = make_runtime(cfg["device"])
    task = TASKS.build("vpr", cfg, runtime, seed_everything(cfg["train"]["seed"]))
    if patch:
        patch(task)
    events = EventWriter(paths.events)
    status = Trainer(
        paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events)
    ).train()
    events.close()
    return paths.root, status


def nan_at_second_batch(task) -> None:  # type: ignore[no-untyped-def]
    original, calls = task.compute_loss, []

    def compute_loss(images, labels):  # type: ignore[no-untyped-def]
        calls.append(1)
        total, parts = original(images, labels)
        return (total * float("nan"), parts) if len(calls) == 2 else (total, parts)

    task.compute_loss = compute_loss


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
    assert {
        "loss/total",
        "loss/multi_similarity",
        "grad_norm",
        "lr/backbone",
        "lr/aggregator",
        "lr/head",
    } <= set(scalars[0]["values"])
    system = next(e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "system")
    assert system["values"]["img_per_s"] > 0 and system["values"]["rss_mb"] > 0


def test_evaluate_only(tmp_path: Path, tiny_city: Path) -> None:
    run_dir, status = train(tmp_path, tiny_city, steps=0)
    events = list(iter_events(run_dir / "events.jsonl"))
    assert status == "completed"
    evals = [e for e in events if e["kind"] == "eval"]
    assert [e["split"] for e in evals] == ["val", "sim2real", "night", "sim2sim"]  # validation first
    assert [e["role"] for e in evals] == ["val", "test", "test", "test"]
    assert not [e for e in events if e["kind"] == "scalar"]
    assert read_json(run_dir / "run.json")["final"]["sim2real"]["R@1"] >= 0


def test_checkpoint_loads_with_weights_only_and_corrupt_file_is_a_user_error(
    tmp_path: Path, tiny_city: Path
) -> None:
    run_dir, _ = train(tmp_path, tiny_city)
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert state["step"] == 3 and "model" in state["model"] and "sampler" in state["model"]
    assert isinstance(state["rng"]["torch"], torch.Tensor)
    broken = run_dir / "checkpoints" / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="unreadable: corrupt or not a torch file"):
        load_checkpoint(broken)


def test_nan_loss_stops_the_run_with_an_alert(tmp_path: Path, tiny_city: Path) -> None:
    run_dir, status = train(tmp_path, tiny_city, steps=4, patch=nan_at_second_batch)
    assert status == "failed"
    alerts = [e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "alert"]
    assert alerts[0]["code"] == "nan" and alerts[0]["step"] == 2


def test_nan_policy_skip_keeps_training(tmp_path: Path, tiny_city: Path) -> None:
    run_dir, status = train(tmp_path, tiny_city, "train.nan_policy=skip", steps=4, patch=nan_at_second_batch)
    assert status == "completed"
    events = list(iter_events(run_dir / "events.jsonl"))
    assert [e["level"] for e in events if e["kind"] == "alert"] == ["warning"]
    assert all(
        e["values"].get("loss/total", 0) == e["values"].get("loss/total", 0)
        for e in events
        if e["kind"] == "scalar"
    )


def test_grad_accumulation_and_ema(tmp_path: Path, tiny_city: Path) -> None:
    run_dir, status = train(tmp_path, tiny_city, "train.grad_accum_steps=2", "train.ema_decay=0.9", steps=2)
    assert status == "completed"
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert state["ema"] is not None and state["train_seconds"] > 0
    system = [e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "system"]
    assert system  # two batches per step still log once per step


def test_feature_cache_gives_identical_losses(tmp_path: Path, tiny_city: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LABCONSOLE_CACHE", str(tmp_path / "cache"))
    frozen = ("freeze=frozen_backbone", "augment=none")
    cached, _ = train(tmp_path, tiny_city, *frozen, "train.feature_cache=on")
    plain, _ = train(tmp_path, tiny_city, *frozen, "train.feature_cache=off")
    assert list((tmp_path / "cache").glob("features-*.npy"))
    assert losses(cached) == pytest.approx(losses(plain), rel=1e-5)
    freeze_events = [e for e in iter_events(cached / "events.jsonl") if e["kind"] == "freeze"]
    assert freeze_events and freeze_events[0]["step"] == 0


def test_feature_cache_on_needs_a_frozen_backbone(tiny_city: Path) -> None:
    from engine.core.errors import ConfigError
    from engine.tasks.vpr import use_feature_cache

    with pytest.raises(ConfigError, match="frozen_backbone"):
        use_feature_cache(resolve_config("demo", [*tiny_overrides(tiny_city), "train.feature_cache=on"]))


@pytest.mark.parametrize("aggregator", ["netvlad", "mixvpr", "boq", "salad"])
def test_every_spatial_aggregator_trains_through_the_loop(
    tmp_path: Path, tiny_city: Path, aggregator: str
) -> None:
    extra = ["model.aggregator.name=" + aggregator] + (
        ["model.aggregator.clusters=4"] if aggregator == "netvlad" else []
    )
    run_dir, status = train(tmp_path, tiny_city, *extra, steps=2)
    assert status == "completed"
    assert all(v == v for v in losses(run_dir))  # finite, not NaN


def test_out_of_memory_fails_the_run_with_advice(tmp_path: Path, tiny_city: Path) -> None:
    def out_of_memory(task) -> None:  # type: ignore[no-untyped-def]
        def compute_loss(images, labels):  # type: ignore[no-untyped-def]
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        task.compute_loss = compute_loss

    run_dir, status = train(tmp_path, tiny_city, patch=out_of_memory)
    assert status == "failed"
    alert = next(e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "alert")
    assert alert["code"] == "oom" and "lower train.places_per_batch, use device.amp=bf16" in alert["message"]
