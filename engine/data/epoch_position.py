"""Where an infinite, resumable batch sampler stands (epoch, batch within it) and its DDP shard.

Both samplers draw batch `i` of epoch `e` as a pure function of (seed, e, i), so their state is only
this position. Under DDP each rank is a shard: of every world_size consecutive batches of an epoch it
draws the one at its rank, so one optimizer step covers world_size batches.
"""

from __future__ import annotations

from typing import Any


class EpochPosition:
    """Epoch and batch counters, sharding and the position's state dict; subclasses say what a batch is."""

    seed: int
    batch_unit: str = ""  # "64 images", for the message when there are too few batches to share
    batch_key: str = ""  # the config key that sets the batch size, for the same message

    def _init_position(self, seed: int) -> None:
        self.seed = seed
        self.epoch = 0
        self.batch_in_epoch = 0  # in this shard's batches
        self.rank, self.world_size = 0, 1

    def __iter__(self) -> EpochPosition:
        return self

    def batches_in_epoch(self) -> int:
        """Full batches in one permutation, over all ranks."""
        raise NotImplementedError

    @property
    def batches_per_epoch(self) -> int:
        """This shard's batches in one epoch (all of them when unsharded)."""
        return self.batches_in_epoch() // self.world_size

    def shard(self, rank: int, world_size: int) -> None:
        """Draw only rank `rank`'s share of the batches (call before the first batch, same position on all ranks)."""
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside 0..{world_size - 1}")
        if self.batches_in_epoch() < world_size:
            raise ValueError(
                f"{self.batches_in_epoch()} batches of {self.batch_unit} per epoch cannot be shared by "
                f"{world_size} processes; lower {self.batch_key} or device.processes"
            )
        self.rank, self.world_size = rank, world_size

    def __next__(self) -> object:
        """The next batch's item indices; moves on by one."""
        return self.batch_at(*self.next_position())

    def batch_at(self, epoch: int, index: int) -> object:
        """Item indices of batch `index` of `epoch` (over all ranks), without moving the position."""
        raise NotImplementedError

    def next_position(self) -> tuple[int, int]:
        """(epoch, batch index within the epoch over all ranks) of this shard's next batch; moves on by one."""
        epoch, index = self.epoch, self.batch_in_epoch * self.world_size + self.rank
        self.batch_in_epoch += 1
        if self.batch_in_epoch == self.batches_per_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        return epoch, index

    def _position_state(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "world_size": self.world_size,
        }

    def _load_position(self, state: dict[str, Any]) -> None:
        """A position saved with another number of processes is carried over in whole batches of the epoch."""
        self.seed, self.epoch = state["seed"], state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"] * state.get("world_size", 1) // self.world_size
