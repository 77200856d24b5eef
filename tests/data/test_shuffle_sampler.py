"""Shuffled batches for segmentation and classification: epochs, seeds, DDP shards, exact resumption."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.shuffle_sampler import ShuffleBatchSampler


def test_an_epoch_is_a_permutation_without_the_last_partial_batch() -> None:
    sampler = ShuffleBatchSampler(23, 5, seed=0)
    epoch = np.concatenate([next(sampler) for _ in range(4)])
    assert len(set(epoch.tolist())) == 20 and sampler.epoch == 1 and sampler.batch_in_epoch == 0
    assert not np.array_equal(next(sampler), epoch[:5])  # the next epoch is another permutation


def test_same_seed_same_batches_other_seed_differs() -> None:
    a, b, c = ShuffleBatchSampler(40, 8, 1), ShuffleBatchSampler(40, 8, 1), ShuffleBatchSampler(40, 8, 2)
    first = [next(a) for _ in range(6)]
    assert all(np.array_equal(x, next(b)) for x in first)
    assert not all(np.array_equal(x, next(c)) for x in first)


def test_shards_split_each_epoch_between_ranks() -> None:
    whole = ShuffleBatchSampler(40, 4, 0)
    ranks = [ShuffleBatchSampler(40, 4, 0) for _ in range(2)]
    for rank, sampler in enumerate(ranks):
        sampler.shard(rank, 2)
    reference = [next(whole) for _ in range(10)]
    assert all(np.array_equal(next(ranks[i % 2]), batch) for i, batch in enumerate(reference))
    with pytest.raises(ValueError, match="cannot be shared by 3 processes"):
        ShuffleBatchSampler(8, 4, 0).shard(0, 3)


def test_state_round_trip_continues_with_the_same_batch() -> None:
    sampler = ShuffleBatchSampler(30, 4, 3)
    for _ in range(9):
        next(sampler)
    resumed = ShuffleBatchSampler(30, 4, 0)
    resumed.load_state_dict(sampler.state_dict())
    assert np.array_equal(next(resumed), next(sampler))
    with pytest.raises(ValueError, match="different data set"):
        ShuffleBatchSampler(31, 4, 0).load_state_dict(sampler.state_dict())
