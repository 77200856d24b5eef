"""Shuffled fixed-size batches over a data set, epoch after epoch, resumable exactly from a state dict."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


class ShuffleBatchSampler:
    """Infinite iterator of index arrays of length `batch_size`.

    An epoch is one random permutation of the items cut into batches (the last incomplete batch is
    dropped, so every step sees the same batch size). Each batch is a pure function of
    (seed, epoch, batch index), so the state is just that position. Under DDP each rank is a shard
    (`shard(rank, world_size)`, the same protocol as the VPR place sampler): of every world_size
    consecutive batches of an epoch it draws the one at its rank.
    """

    def __init__(self, size: int, batch_size: int, seed: int = 0) -> None:
        if not 0 < batch_size <= size:
            raise ValueError(f"batch size {batch_size} for a data set of {size} items")
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self.batch_in_epoch = 0  # in this shard's batches
        self.rank, self.world_size = 0, 1

    @property
    def batches_per_epoch(self) -> int:
        """This shard's full batches in one permutation (all of them when unsharded)."""
        return self.size // self.batch_size // self.world_size

    def shard(self, rank: int, world_size: int) -> None:
        """Draw only rank `rank`'s share of the batches (call before the first batch, same position on all ranks)."""
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside 0..{world_size - 1}")
        if self.size // self.batch_size < world_size:
            raise ValueError(f"{self.size // self.batch_size} batches of {self.batch_size} images per epoch cannot be "
                             f"shared by {world_size} processes; lower train.batch_size or device.processes")
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[np.ndarray]:
        return self

    def __next__(self) -> np.ndarray:
        """The next (batch_size,) int64 index array."""
        perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        start = (self.batch_in_epoch * self.world_size + self.rank) * self.batch_size
        batch = perm[start:start + self.batch_size]
        self.batch_in_epoch += 1
        if self.batch_in_epoch == self.batches_per_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        return batch

    def state_dict(self) -> dict[str, Any]:
        """The position plus what it was computed for (plain ints: checkpoints load with weights_only)."""
        return {"seed": self.seed, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch, "size": self.size,
                "batch_size": self.batch_size, "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the position; the data set size and batch size must match.

        A position saved with another number of processes is carried over in whole batches of the epoch.
        """
        if state["size"] != self.size or state["batch_size"] != self.batch_size:
            raise ValueError("sampler state was saved for a different data set or batch size")
        self.seed, self.epoch = state["seed"], state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"] * state.get("world_size", 1) // self.world_size
