"""The place-balanced sampler: P distinct places x K images, epochs, exact resume."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.place_sampler import PlaceBatchSampler


def labels_with(counts: list[int]) -> np.ndarray:
    """Shuffled labels: place i has counts[i] images."""
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(0).permutation(labels)


def test_batches_hold_k_distinct_images_of_p_distinct_places() -> None:
    labels = labels_with([6] * 40)
    sampler = PlaceBatchSampler(labels, places_per_batch=8, images_per_place=4, seed=0)
    for _, batch in zip(range(12), sampler):
        assert batch.shape == (32,) and batch.dtype == np.int64
        groups = batch.reshape(8, 4)
        assert len(set(labels[groups[:, 0]])) == 8
        for group in groups:
            assert len(set(labels[group])) == 1 and len(set(group)) == 4


def test_small_places_are_sampled_with_replacement() -> None:
    labels = labels_with([2] * 10)
    batch = next(iter(PlaceBatchSampler(labels, places_per_batch=5, images_per_place=4, seed=0)))
    for group in batch.reshape(5, 4):
        assert set(group) == set(np.flatnonzero(labels == labels[group[0]]))


def test_an_epoch_visits_each_place_at_most_once() -> None:
    labels = labels_with([3] * 25)
    sampler = PlaceBatchSampler(labels, places_per_batch=4, images_per_place=2, seed=3)
    assert sampler.batches_per_epoch == 6
    seen = [labels[b[::2]] for _, b in zip(range(6), sampler)]
    assert len(set(np.concatenate(seen))) == 24
    assert (sampler.epoch, sampler.batch_in_epoch) == (1, 0)


def test_state_dict_resumes_with_the_same_next_batch() -> None:
    labels = labels_with([5] * 30)
    a = PlaceBatchSampler(labels, 4, 3, seed=7)
    for _ in range(9):  # crosses an epoch boundary (7 batches per epoch)
        next(a)
    state = a.state_dict()
    b = PlaceBatchSampler(labels, 4, 3, seed=0)
    b.load_state_dict(state)
    for _ in range(10):
        np.testing.assert_array_equal(next(a), next(b))


def test_same_seed_same_batches_other_seed_other_batches() -> None:
    labels = labels_with([4] * 20)
    first = [next(iter(PlaceBatchSampler(labels, 5, 2, seed=s))) for s in (1, 1, 2)]
    np.testing.assert_array_equal(first[0], first[1])
    assert not np.array_equal(first[0], first[2])


def test_errors() -> None:
    with pytest.raises(ValueError, match="only 3 places"):
        PlaceBatchSampler(labels_with([2, 2, 2]), 4, 2)
    sampler = PlaceBatchSampler(labels_with([2] * 10), 4, 2)
    with pytest.raises(ValueError, match="different data set"):
        sampler.load_state_dict(PlaceBatchSampler(labels_with([2] * 12), 4, 2).state_dict())
