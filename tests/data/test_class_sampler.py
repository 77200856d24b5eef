"""One image per class per batch (classification losses), drawn from one CosPlace group at a time."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine.data.place_sampler import ClassBatchSampler

# 3 groups of 6, 5 and 4 classes (numbered group after group); class c has c % 3 + 1 images; label -1 unused
GROUPS = [6, 5, 4]
LABELS = np.array([c for c in range(15) for _ in range(c % 3 + 1)] + [-1, -1], np.int64)


def group_of(label: int) -> int:
    return int(np.searchsorted(np.cumsum(GROUPS), label, side="right"))


def test_a_batch_holds_distinct_classes_of_one_group_one_image_each() -> None:
    sampler = ClassBatchSampler(LABELS, batch_size=4, seed=0, group_sizes=GROUPS, batches_per_group=3)
    for _ in range(20):
        batch = next(sampler)
        classes = LABELS[batch]
        assert len(batch) == 4 and len(set(classes.tolist())) == 4
        assert len({group_of(c) for c in classes}) == 1
        assert (classes >= 0).all()


def test_groups_rotate_every_batches_per_group() -> None:
    sampler = ClassBatchSampler(LABELS, batch_size=4, seed=0, group_sizes=GROUPS, batches_per_group=3)
    groups = [group_of(LABELS[next(sampler)][0]) for _ in range(12)]
    assert groups == [0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0]
    assert sampler.batches_per_epoch == 3


def test_without_groups_an_epoch_is_a_pass_over_the_classes() -> None:
    labels = np.repeat(np.arange(10), 2)
    sampler = ClassBatchSampler(labels, batch_size=5, seed=3)
    seen = np.concatenate([labels[next(sampler)] for _ in range(2)])
    assert sorted(seen.tolist()) == list(range(10))  # two batches: every class once
    assert sampler.epoch == 1


def test_resume_gives_the_same_next_batches() -> None:
    sampler = ClassBatchSampler(LABELS, batch_size=4, seed=5, group_sizes=GROUPS, batches_per_group=2)
    for _ in range(5):
        next(sampler)
    state = copy.deepcopy(sampler.state_dict())
    expected = [next(sampler).tolist() for _ in range(4)]
    again = ClassBatchSampler(LABELS, batch_size=4, seed=5, group_sizes=GROUPS, batches_per_group=2)
    again.load_state_dict(state)
    assert [next(again).tolist() for _ in range(4)] == expected
    other = ClassBatchSampler(LABELS, batch_size=3, seed=5, group_sizes=GROUPS, batches_per_group=2)
    with pytest.raises(ValueError, match="different classes, groups or batch size"):
        other.load_state_dict(state)


def test_a_group_smaller_than_a_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="only 4 classes"):
        ClassBatchSampler(LABELS, batch_size=5, group_sizes=GROUPS, batches_per_group=2)
