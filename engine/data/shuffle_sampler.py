"""Shuffled fixed-size batches over a data set, epoch after epoch, resumable exactly from a state dict."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.data.epoch_position import EpochPosition


class ShuffleBatchSampler(EpochPosition):
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
        self.batch_unit, self.batch_key = f"{batch_size} images", "train.batch_size"
        self._init_position(seed)

    def batches_in_epoch(self) -> int:
        return self.size // self.batch_size

    def batch_at(self, epoch: int, index: int) -> np.ndarray:
        """Batch `index` of `epoch` as a (batch_size,) int64 index array."""
        perm = np.random.default_rng([self.seed, epoch]).permutation(self.size)
        return perm[index * self.batch_size : (index + 1) * self.batch_size]

    def state_dict(self) -> dict[str, Any]:
        """The position plus what it was computed for (plain ints: checkpoints load with weights_only)."""
        return {**self._position_state(), "size": self.size, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the position; the data set size and batch size must match."""
        if state["size"] != self.size or state["batch_size"] != self.batch_size:
            raise ValueError("sampler state was saved for a different data set or batch size")
        self._load_position(state)
