"""Device, precision, threads and seeding for the engine process; CUDA paths degrade cleanly to CPU."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.core.errors import ConfigError

if TYPE_CHECKING:
    from engine.distributed import Distributed


@dataclass
class Runtime:
    """The resolved execution setup of one run."""

    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool
    rank: int = 0
    """This process's rank under DDP (tasks that load their own data may shard it by rank and world_size)."""
    world_size: int = 1
    """Training processes; the global batch is world_size × train.batch_size (× grad_accum_steps)."""
    notify: Callable[[str, str], None] | None = None
    """Progress for the monitor while there are no steps yet: (phase, message), e.g. ("caching", "caching 1,200 /
    9,120 images (train)"); None: tell no one."""

    @property
    def uses_scaler(self) -> bool:
        """fp16 needs loss scaling to keep small gradients from underflowing; bf16 does not."""
        return self.amp_dtype is torch.float16

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Autocast on CUDA when AMP is on; a no-op otherwise."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        """Move a batch of images, in channels_last when asked (faster convolutions)."""
        images = images.to(self.device, non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images


def make_runtime(device_cfg: dict[str, Any], dist: Distributed | None = None) -> Runtime:
    """Pick the device and precision; AMP is used only on CUDA (bf16 autocast is ~20× slower on this kind of CPU).

    Under DDP the device is this rank's (cuda:LOCAL_RANK or cpu) and the cores are shared among the node's processes.
    """
    name = device_cfg["name"]
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device.name", "cuda was asked for but no CUDA device is available; use cpu or auto"
        )
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    processes_here = dist.local_world_size if dist is not None and dist.enabled else 1
    torch.set_num_threads(device_cfg.get("threads", 0) or default_threads(processes_here))
    amp = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[device_cfg["amp"]]
    device = dist.device if dist is not None and dist.enabled else torch.device(name)
    return Runtime(
        device,
        amp if device.type == "cuda" else None,
        bool(device_cfg.get("channels_last")),
        rank=dist.rank if dist else 0,
        world_size=dist.world_size if dist else 1,
    )


def default_threads(processes_here: int) -> int:
    """torch threads per process: the Slurm task's cores, else this machine's cores shared by its processes."""
    slurm_cores = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm_cores.isdigit():
        return max(1, int(slurm_cores))
    return max(1, (os.cpu_count() or 1) // processes_here)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a generator for the engine's own sampling (augmentation)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def rng_states() -> dict[str, Any]:
    """Every global RNG state, for exact resumption."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    # numpy arrays are not loadable with weights_only=True: keep the key array as a tensor
    numpy_state = [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)]
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": numpy_state,
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what rng_states() captured."""
    random.setstate(states["python"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
