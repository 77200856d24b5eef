"""Training batches of VPR: P places x K images each (pair and triplet losses), or one image of each of B
classes (classification losses, CosPlace groups); both resumable exactly from a state dict."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.data.epoch_position import EpochPosition


class PlaceBatchSampler(EpochPosition):
    """Infinite iterator of index arrays of length P*K: K distinct images of each of P distinct places.

    An epoch is one pass over a random permutation of the places, cut into groups of P (the last
    incomplete group is dropped, so an epoch has num_places // P batches); then the next epoch starts.
    Images are drawn without replacement within a place; a place with fewer than K gives all it has plus repeats.
    Every batch is a pure function of (seed, epoch, batch index), so the state is just that position.
    Under DDP each rank is a shard (`shard(rank, world_size)`): of every world_size consecutive batches of an
    epoch it draws the one at its rank, so the ranks see different places and one step covers world_size batches.
    """

    def __init__(
        self, labels: np.ndarray, places_per_batch: int, images_per_place: int, seed: int = 0
    ) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        order = np.argsort(labels, kind="stable")
        places, starts = np.unique(labels[order], return_index=True)
        if len(places) < places_per_batch:
            raise ValueError(f"{places_per_batch} places per batch, but only {len(places)} places")
        self._members = np.split(order, starts[1:])  # image indices of each place
        self.places_per_batch = places_per_batch
        self.images_per_place = images_per_place
        self.batch_unit, self.batch_key = f"{places_per_batch} places", "train.places_per_batch"
        self._init_position(seed)

    @property
    def batch_size(self) -> int:
        """P * K."""
        return self.places_per_batch * self.images_per_place

    def batches_in_epoch(self) -> int:
        return len(self._members) // self.places_per_batch

    def batch_at(self, epoch: int, index: int) -> np.ndarray:
        """Batch `index` of `epoch` as a (P*K,) int64 index array; place-major: K images of place 1, then K of
        place 2, ..."""
        perm = np.random.default_rng([self.seed, epoch]).permutation(len(self._members))
        chosen = perm[index * self.places_per_batch : (index + 1) * self.places_per_batch]
        rng = np.random.default_rng([self.seed, epoch, index, 1])
        picks = [self._pick(self._members[p], rng) for p in chosen]
        return np.concatenate(picks)

    def _pick(self, members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """K images of one place: distinct when it has at least K, else all of them plus repeats."""
        k, n = self.images_per_place, len(members)
        if n >= k:
            return members[rng.choice(n, k, replace=False)]
        return members[np.concatenate([rng.permutation(n), rng.integers(0, n, k - n)])]

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue with the same next batch (plus checks against a changed data set)."""
        return {
            **self._position_state(),
            "num_places": len(self._members),
            "batch": [self.places_per_batch, self.images_per_place],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the position; the data set and batch shape must match the ones it was saved with."""
        if state["num_places"] != len(self._members) or list(state["batch"]) != [
            self.places_per_batch,
            self.images_per_place,
        ]:
            raise ValueError("sampler state was saved for a different data set or batch shape")
        self._load_position(state)


class ClassBatchSampler(EpochPosition):
    """Infinite iterator of index arrays: one image of each of `batch_size` distinct classes (CosFace, ArcFace).

    Classification losses learn a centre per class and need no pair of the same place in a batch, so a batch
    covers as many classes as it has images (CosPlace's sampling: a data set of classes, a random image of each).
    The classes come from one group at a time (`group_sizes`: classes are numbered group after group):

    - without groups (one group of every class) an epoch is one pass over a random permutation of the classes;
    - with CosPlace groups an epoch is `batches_per_group` steps on one group (CosPlace's epoch), cycling
      through permutations of its classes, and epoch e trains group e mod G.

    Images labelled -1 are never drawn. Every batch is a pure function of (seed, epoch, batch index).
    """

    def __init__(
        self,
        labels: np.ndarray,
        batch_size: int,
        seed: int = 0,
        group_sizes: list[int] | None = None,
        batches_per_group: int = 0,
    ) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        used = np.flatnonzero(labels >= 0)
        order = used[np.argsort(labels[used], kind="stable")]
        classes, starts = np.unique(labels[order], return_index=True)
        if len(classes) and not np.array_equal(classes, np.arange(len(classes))):
            raise ValueError("class labels must be 0..C-1, each with at least one image")
        self._members = np.split(order, starts[1:]) if len(order) else []
        self.group_sizes = list(group_sizes) if group_sizes is not None else [len(classes)]
        if sum(self.group_sizes) != len(classes):
            raise ValueError(f"groups of {sum(self.group_sizes)} classes, but the labels hold {len(classes)}")
        smallest = min(self.group_sizes)
        if smallest < batch_size:
            raise ValueError(f"{batch_size} classes per batch, but a group has only {smallest} classes")
        self._offsets = np.concatenate([[0], np.cumsum(self.group_sizes)]).astype(np.int64)
        self.batch_size = batch_size
        self.batches_per_group = batches_per_group
        self.batch_unit, self.batch_key = f"{batch_size} classes", "train.places_per_batch"
        self._init_position(seed)

    @property
    def num_classes(self) -> int:
        return len(self._members)

    def group_at(self, epoch: int) -> int:
        """The group (position in training order) that `epoch` trains."""
        return epoch % len(self.group_sizes)

    def batches_in_epoch(self) -> int:
        if self.batches_per_group:  # steps per group, whatever the number of processes
            return self.batches_per_group * self.world_size
        return self.group_sizes[0] // self.batch_size

    def batch_at(self, epoch: int, index: int) -> np.ndarray:
        """Batch `index` of `epoch` as a (batch_size,) int64 index array: one image of each chosen class."""
        group = self.group_at(epoch)
        first, size = int(self._offsets[group]), self.group_sizes[group]
        per_pass = size // self.batch_size
        rounds, slot = divmod(index, per_pass)
        perm = np.random.default_rng([self.seed, epoch, rounds]).permutation(size)
        chosen = first + perm[slot * self.batch_size : (slot + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, epoch, index, 1])
        return np.array([self._members[c][rng.integers(len(self._members[c]))] for c in chosen], np.int64)

    def state_dict(self) -> dict[str, Any]:
        return {
            **self._position_state(),
            "group_sizes": list(self.group_sizes),
            "batch": [self.batch_size, self.batches_per_group],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the position; the classes, groups and batch must match the ones it was saved with."""
        if list(state.get("group_sizes", [])) != self.group_sizes or list(state.get("batch", [])) != [
            self.batch_size,
            self.batches_per_group,
        ]:
            raise ValueError("sampler state was saved for different classes, groups or batch size")
        self._load_position(state)
