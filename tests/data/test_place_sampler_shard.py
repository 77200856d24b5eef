"""The place sampler under DDP: each rank draws its own batches; together they are the unsharded epoch."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.place_sampler import PlaceBatchSampler
from tests.data.test_place_sampler import labels_with


def shards(labels: np.ndarray, world: int, seed: int = 0) -> list[PlaceBatchSampler]:
    samplers = [
        PlaceBatchSampler(labels, places_per_batch=4, images_per_place=2, seed=seed) for _ in range(world)
    ]
    for rank, sampler in enumerate(samplers):
        sampler.shard(rank, world)
    return samplers


def test_ranks_share_the_epoch_without_overlap() -> None:
    labels = labels_with([3] * 40)  # 10 batches of 4 places per epoch
    whole = PlaceBatchSampler(labels, places_per_batch=4, images_per_place=2, seed=0)
    rank0, rank1 = shards(labels, 2)
    assert rank0.batches_per_epoch == rank1.batches_per_epoch == 5
    steps = [(next(rank0), next(rank1)) for _ in range(5)]
    unsharded = [next(whole) for _ in range(10)]
    for step, (a, b) in enumerate(steps):  # step i takes batches 2i and 2i+1 of the epoch
        np.testing.assert_array_equal(a, unsharded[2 * step])
        np.testing.assert_array_equal(b, unsharded[2 * step + 1])
        assert not set(labels[a]) & set(labels[b])
    assert (rank0.epoch, rank0.batch_in_epoch) == (1, 0)


def test_one_shard_is_the_unsharded_sampler() -> None:
    labels = labels_with([3] * 20)
    (alone,) = shards(labels, 1)
    plain = PlaceBatchSampler(labels, places_per_batch=4, images_per_place=2, seed=0)
    for _ in range(8):
        np.testing.assert_array_equal(next(alone), next(plain))


def test_state_moves_between_world_sizes_in_whole_batches() -> None:
    labels = labels_with([3] * 40)
    rank0, _ = shards(labels, 2)
    for _ in range(3):
        next(rank0)
    state = rank0.state_dict()
    assert state["world_size"] == 2 and state["batch_in_epoch"] == 3
    alone = PlaceBatchSampler(labels, places_per_batch=4, images_per_place=2, seed=0)
    alone.load_state_dict(state)
    assert alone.batch_in_epoch == 6  # 3 steps of 2 ranks = 6 batches of the epoch
    old = {k: v for k, v in state.items() if k != "world_size"}  # a checkpoint from before sharding existed
    again, _ = shards(labels, 2)
    again.load_state_dict(old)
    assert again.batch_in_epoch == 1


def test_more_ranks_than_batches_per_epoch_is_refused() -> None:
    sampler = PlaceBatchSampler(labels_with([3] * 8), places_per_batch=4, images_per_place=2)
    with pytest.raises(ValueError, match="2 batches of 4 places per epoch cannot be shared by 3 processes"):
        sampler.shard(0, 3)
