"""Multi-process training (DDP): the process group, the small collectives the loop needs, and the model wrapper.

One object, `Distributed`, answers "which rank am I and what do the others say?". With one process every
method is a local no-op, so the training loop is written once. The launcher (torchrun locally, or submitit
on Slurm) sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT; we only read them.

Control traffic (steering commands, stop signals, log-step scalars, "wait while rank 0 evaluates") always
goes over a CPU gloo group, so it never forces a CPU-GPU sync and never queues behind NCCL gradient traffic.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import random
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from engine.core.errors import ConfigError

#: How long the other ranks wait at a control collective, e.g. while rank 0 alone evaluates a large test set.
#: NCCL's default (10 min) would kill a run during a long evaluation; a dead rank is caught by the launcher sooner.
CONTROL_TIMEOUT = datetime.timedelta(hours=4)


def launch_env() -> tuple[int, int, int, int]:
    """(rank, local_rank, world_size, local_world_size) as set by torchrun or submitit; (0, 0, 1, 1) when alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world, local_world


@dataclass
class Distributed:
    """This process's place in the job, and the collectives the training loop uses (no-ops with one process)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    backend: str = ""
    """"nccl" (one GPU per process), "gloo" (CPU processes), or "" for a single process."""
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    control_group: Any = None

    @property
    def enabled(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes events, run.json and checkpoints, and evaluates."""
        return self.rank == 0

    def describe(self) -> str:
        """ "2 processes (gloo)" or "1 process"."""
        return f"{self.world_size} processes ({self.backend})" if self.enabled else "1 process"

    # -- control collectives (CPU, gloo) -----------------------------------------------------------------
    def sync_control(
        self, stop_signal: int, commands: list[dict[str, Any]]
    ) -> tuple[int, list[dict[str, Any]]]:
        """Agree on what happens at this step: any rank's stop signal, and rank 0's steering commands.

        One small all_reduce per step; the commands travel only when rank 0 read some. Every rank then applies
        the same commands at the same step, and all ranks stop together (a lone rank leaving would hang the rest).
        """
        if not self.enabled:
            return stop_signal, commands
        payload = json.dumps(commands).encode() if self.is_main and commands else b""
        header = torch.tensor([stop_signal, len(payload)], dtype=torch.int64)
        dist.all_reduce(header, op=dist.ReduceOp.MAX, group=self.control_group)
        signum, size = int(header[0]), int(header[1])
        if not size:
            return signum, []
        buffer = (
            torch.frombuffer(bytearray(payload), dtype=torch.uint8)
            if self.is_main
            else torch.empty(size, dtype=torch.uint8)
        )
        dist.broadcast(buffer, src=0, group=self.control_group)
        return signum, json.loads(buffer.numpy().tobytes())

    def all_gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj` (picklable), in rank order; [obj] with one process."""
        if not self.enabled:
            return [obj]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, obj, group=self.control_group)
        return gathered

    def all_true(self, flag: torch.Tensor | bool) -> bool:
        """True only when every rank says True (e.g. "this step's loss is finite": skip a step on all or none)."""
        local = bool(flag)
        if not self.enabled:
            return local
        value = torch.tensor([int(local)], dtype=torch.int64)
        dist.all_reduce(value, op=dist.ReduceOp.MIN, group=self.control_group)
        return bool(value.item())

    def wait_for_main(self) -> None:
        """Barrier on the control group: the other ranks wait here while rank 0 evaluates."""
        if self.enabled:
            dist.barrier(group=self.control_group)

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block before the others: it alone downloads weights or fills shared caches on disk,
        and the others then find them there (several ranks writing the same files could corrupt them)."""
        if not self.is_main:
            self.wait_for_main()
        yield
        if self.is_main:
            self.wait_for_main()

    def parameters_in_sync(self, modules: dict[str, nn.Module]) -> bool:
        """Whether every rank holds the same parameters (a DDP self-check; exact, the sums are float64)."""
        if not self.enabled:
            return True
        unique = {id(p): p for module in modules.values() for p in module.parameters()}
        with torch.no_grad():
            fingerprint = [float(p.detach().double().sum()) for p in unique.values()]
        return all(other == fingerprint for other in self.all_gather(fingerprint))

    def close(self) -> None:
        """Leave the process group (idempotent)."""
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(device_cfg: dict[str, Any]) -> Distributed:
    """Join the process group the launcher set up; a single process (no WORLD_SIZE) gets a local-only object."""
    rank, local_rank, world, local_world = launch_env()
    if world <= 1:
        return Distributed()
    device = _rank_device(device_cfg["name"], local_rank, local_world)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)  # before init: NCCL binds each process to its own GPU
    dist.init_process_group(backend, **({"device_id": device} if device.type == "cuda" else {}))
    control = dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)
    return Distributed(rank, local_rank, world, local_world, backend, device, control)


def _rank_device(name: str, local_rank: int, local_world: int) -> torch.device:
    """cuda:LOCAL_RANK (one GPU per process) or cpu; fewer GPUs than processes on a node is the user's error."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if name == "cpu" or (name == "auto" and gpus == 0):
        return torch.device("cpu")
    if gpus == 1 and local_world > 1 and not os.environ.get("TORCHELASTIC_RUN_ID"):
        return torch.device("cuda", 0)  # not torchrun: the scheduler bound one GPU to each task, its device 0
    if gpus < local_world:
        raise ConfigError(
            "device.processes",
            f"{local_world} processes per node need {local_world} CUDA GPUs, but "
            f"this node has {gpus}; lower device.processes or use device.name=cpu",
        )
    return torch.device("cuda", local_rank)


def decorrelate_rank_rngs(generator: torch.Generator, seed: int, rank: int, step: int = 0) -> None:
    """Give ranks > 0 their own random streams (augmentation, dropout) after the model is built and restored.

    Rank 0 keeps the streams of a single-process run, so a 1-process run is unchanged; the others derive theirs
    from (seed, rank, step), so a resumed run draws the same as any other run resumed at that step.
    """
    if rank == 0:
        return
    python_seed, numpy_seed, torch_seed, generator_seed = np.random.SeedSequence(
        [seed, rank, step]
    ).generate_state(4)
    random.seed(int(python_seed))
    np.random.seed(int(numpy_seed))
    torch.manual_seed(int(torch_seed))
    generator.manual_seed(int(generator_seed))


def shard_training_data(task: Any, rank: int, world_size: int) -> bool:
    """Give each rank its own share of the training batches; False when the task has no shardable sampler.

    A task opts in by exposing `sampler` with `shard(rank, world_size)` (VPR's place sampler does).
    """
    sampler = getattr(task, "sampler", None)
    if world_size <= 1:
        return True
    if sampler is None or not callable(getattr(sampler, "shard", None)):
        return False
    try:
        sampler.shard(rank, world_size)
    except ValueError as exc:
        raise ConfigError("device.processes", str(exc)) from None
    return True


def signal_number(name: str | None) -> int:
    """ "SIGTERM" -> 15; None -> 0 (what sync_control carries)."""
    return int(signal.Signals[name]) if name else 0


def signal_name(number: int) -> str | None:
    """15 -> "SIGTERM"; 0 -> None."""
    return signal.Signals(number).name if number else None


class LossModule(nn.Module):
    """The task's loss as one module, so DDP sees every trainable parameter (model and loss) and every forward.

    Wrapping only `task.model` would miss trainable loss weights (CosFace class centres) and the feature-cache
    path, which calls parts of the model directly.
    """

    def __init__(self, task: Any) -> None:
        super().__init__()
        self.groups = nn.ModuleDict(task.modules())
        self.task = task  # not a Module: a plain attribute, not registered

    def forward(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.task.compute_loss(images, labels)


class DataParallelLoss:
    """Computes the task's loss through DistributedDataParallel; rebuilt whenever the trainable set changes.

    DDP fixes the set of parameters it reduces when it is built, so a freeze phase that (un)freezes anything
    needs a new wrapper; building one also broadcasts rank 0's weights, which is harmless mid-run.
    """

    def __init__(self, task: Any, dist_ctx: Distributed) -> None:
        self.task, self.dist = task, dist_ctx
        self.ddp: nn.parallel.DistributedDataParallel | None = None
        self._trainable: frozenset[int] | None = None
        self._synced_once = False

    def refresh(self) -> None:
        """(Re)build the wrapper when the set of trainable parameters changed (call after a freeze phase)."""
        trainable = frozenset(
            id(p) for m in self.task.modules().values() for p in m.parameters() if p.requires_grad
        )
        if trainable == self._trainable:
            return
        self._trainable, self.ddp, self._synced_once = trainable, None, False
        if not trainable:
            return  # nothing trains: no gradients to reduce, and DDP refuses such a module
        device_ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
        # static_graph: unused parameters are found once instead of by a graph walk every step; a graph
        # that changes from step to step fails with PyTorch's clear "training graph has changed" error. A
        # model that says its graph may change (PCE: the router in use, steerable mid-run, leaves the others
        # without gradients) gets the walk instead.
        dynamic = any(
            getattr(m, "dynamic_graph", False) for g in self.task.modules().values() for m in g.modules()
        )
        graph = {"find_unused_parameters": True} if dynamic else {"static_graph": True}
        self.ddp = nn.parallel.DistributedDataParallel(LossModule(self.task), device_ids=device_ids, **graph)

    def __call__(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.ddp is None:
            return self.task.compute_loss(images, labels)
        return self.ddp(images, labels)

    @contextlib.contextmanager
    def gradient_sync(self, enabled: bool) -> Iterator[None]:
        """Around forward + backward: skip the all-reduce on all but the last accumulation batch.

        A static-graph DDP must reduce on its first step, so that step always syncs (the result is the same:
        reducing each batch's gradients and summing equals summing then reducing).
        """
        if self.ddp is None or enabled or not self._synced_once:
            yield
            self._synced_once = self._synced_once or self.ddp is not None
            return
        with self.ddp.no_sync():
            yield
