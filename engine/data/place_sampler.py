"""Place-balanced batches for metric learning: P places x K images each, resumable exactly from a state dict."""

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
