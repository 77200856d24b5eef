"""DDP correctness with two gloo ranks in-process: same weights, different batches, steering applied in lockstep."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from engine.core.config import resolve_config
from engine.distributed import Distributed
from tests.engine.conftest import tiny_overrides

STEPS = (
    22  # the progressive preset unfreezes at epochs 1 and 2: steps 10 and 20 with 2 ranks × 8 of 160 images
)
LR_SET_AT_STEP = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rank_main(rank: int, world: int, port: int, city: str, run_dir: str, out_dir: str) -> None:
    """One rank: the worker's own building blocks, plus records of what this rank saw."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world),
    )
    from engine.core.protocol import ControlReader, EventWriter, RunPaths, send_control
    from engine.distributed import decorrelate_rank_rngs, init_distributed
    from engine.process import SilentEvents
    from engine.runtime import make_runtime, seed_everything
    from engine.steering import Steering
    from engine.tasks import TASKS
    from engine.trainer import Trainer

    cfg = resolve_config(
        "demo",
        [
            *tiny_overrides(Path(city), STEPS),
            "freeze=progressive",
            "train.grad_accum_steps=2",
            "train.log_every=5",
            "train.eval_at_start=false",
        ],
    )
    dist = init_distributed(cfg["device"])
    runtime = make_runtime(cfg["device"], dist)
    generator = seed_everything(cfg["train"]["seed"])
    task = TASKS.build("vpr", cfg, runtime, generator)
    paths = RunPaths(Path(run_dir))
    events: Any = EventWriter(paths.events) if dist.is_main else SilentEvents()
    trainer = Trainer(
        paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events), dist=dist
    )
    decorrelate_rank_rngs(generator, cfg["train"]["seed"], dist.rank)
    places: list[list[int]] = []
    base_lrs: list[float] = []
    next_batch, train_step = task.next_batch, trainer._train_step

    def recorded_batch():  # type: ignore[no-untyped-def]
        images, labels = next_batch()
        places.append(sorted(set(labels.tolist())))
        if dist.is_main and len(places) == LR_SET_AT_STEP * 2:  # the command lands mid-run, between two polls
            send_control(paths.control, "set", {"optim.lr": 0.02, "freeze.backbone.-1": "on"})
        return images, labels

    def recorded_step():  # type: ignore[no-untyped-def]
        out = train_step()
        base_lrs.append(trainer.schedule.base_lr)
        return out

    task.next_batch, trainer._train_step = recorded_batch, recorded_step
    status = trainer.train()
    events.close()
    torch.save(
        {"status": status, "weights": task.model.state_dict(), "places": places, "base_lrs": base_lrs},
        Path(out_dir) / f"rank{rank}.pt",
    )
    dist.close()


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_weights(tiny_city: Path, tmp_path: Path) -> None:
    from engine.core.protocol import create_run, iter_events, new_run_info, write_json_atomic

    paths = create_run(tmp_path / "runs", "ddp")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "ddp", "vpr", [], max_steps=STEPS))
    torch.multiprocessing.start_processes(
        rank_main,
        args=(2, free_port(), str(tiny_city), str(paths.root), str(tmp_path)),
        nprocs=2,
        start_method="spawn",
    )
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0["status"] == rank1["status"] == "completed"
    for key, value in rank0["weights"].items():
        if "running_" in key or "num_batches" in key:
            continue  # BatchNorm statistics are rank 0's after each broadcast, then move with the local batch
        assert torch.equal(value, rank1["weights"][key]), key
    # each optimizer step takes 2 accumulation batches per rank, and the ranks' places never overlap in a step
    assert len(rank0["places"]) == len(rank1["places"]) == STEPS * 2
    assert all(not set(a) & set(b) for a, b in zip(rank0["places"], rank1["places"]))
    # the LR command reached both ranks at the same step
    assert rank0["base_lrs"] == rank1["base_lrs"]
    changed = [step for step, lr in enumerate(rank0["base_lrs"], start=1) if lr == 0.02]
    assert changed and changed[0] == LR_SET_AT_STEP + 1
    events = list(iter_events(paths.events))
    # each phase, and the last stage frozen by hand, rebuilt the DDP wrapper; the override outlives later phases
    freezes = [e for e in events if e["kind"] == "freeze"]
    # progressive unfreezes at epoch boundaries; a step takes 2 accumulated batches on each of 2 ranks
    assert [e["step"] for e in freezes] == [0, LR_SET_AT_STEP, 5, 10]
    assert [e.get("steered") for e in freezes][1:] == [{"backbone.layers.7": "frozen"}] * 3
    control = [e for e in events if e["kind"] == "control"]
    assert [(c["status"], c["step"]) for c in control] == [("applied", LR_SET_AT_STEP)]
    assert all(e.get("ranks_in_sync") for e in events if e["kind"] == "checkpoint" and not e["best"])


def failing_rank_main(rank: int, port: int, run_dir: str) -> None:
    """The real worker entry point on each rank; rank 1's third loss raises (think: out of memory on its GPU)."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE="2",
    )
    from engine.process import main
    from engine.tasks.vpr import VPRTask

    original, calls = VPRTask.compute_loss, []

    def compute_loss(self, images, labels):  # type: ignore[no-untyped-def]
        calls.append(1)
        if rank == 1 and len(calls) == 3:
            raise RuntimeError("simulated failure")
        return original(self, images, labels)

    VPRTask.compute_loss = compute_loss  # type: ignore[method-assign]
    main([run_dir])


@pytest.mark.slow
def test_a_failing_rank_fails_the_run_with_its_own_error(tiny_city: Path, tmp_path: Path) -> None:
    from engine.core.launch import prepare_run
    from engine.core.protocol import read_json

    paths, _ = prepare_run(
        "demo", [*tiny_overrides(tiny_city, 20), "device.processes=2", "device.name=cpu"], tmp_path / "runs"
    )
    torch.multiprocessing.start_processes(
        failing_rank_main, args=(free_port(), str(paths.root)), nprocs=2, start_method="spawn"
    )
    info = read_json(paths.run_json)
    # rank 0 then loses its peer ("connection closed"): the run keeps the cause, not the consequence
    assert info["status"] == "failed" and info["error"] == "rank 1: RuntimeError: simulated failure"
    assert info["exit_code"] == 1


def test_one_process_needs_no_collectives() -> None:
    alone = Distributed()
    assert not alone.enabled and alone.is_main
    commands = [{"id": "x", "action": "stop"}]
    assert alone.sync_control(15, commands) == (15, commands)
    assert alone.all_gather({"a": 1}) == [{"a": 1}]
    assert alone.all_true(torch.tensor(False)) is False
    assert alone.parameters_in_sync({"m": nn.Linear(2, 2)})
    alone.wait_for_main()
    alone.close()


def test_parameter_counts_follow_the_first_freeze_phase(tiny_city: Path) -> None:
    from engine.freeze import ModelPaths, build_freeze, parameter_counts_in, phase_at
    from engine.models.vpr_model import build_vpr_model

    cfg = resolve_config("demo", [*tiny_overrides(tiny_city), "freeze=frozen_backbone"])
    model = build_vpr_model(cfg["model"])
    groups = model.module_groups()
    phases = build_freeze(cfg["freeze"]).phases(4, 10.0, ModelPaths(groups))
    counts = parameter_counts_in(groups, phase_at(phases, 0))
    backbone = counts["by_group"]["backbone"]
    assert backbone["total"] > 0 and backbone["trainable"] == 0
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["trainable"] == counts["total"] - backbone["total"]
    assert all(p.requires_grad for p in model.parameters())  # counting left the model as it was
