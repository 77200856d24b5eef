"""Backbone features computed once into a memory-mapped file, for runs whose backbone never trains.

When the backbone is frozen for the whole run and the input transform is deterministic (no augmentation),
every epoch would recompute the same features: the DINOv2 linear-probe case. The cache turns each later
step into a memory read plus the small trainable head.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.data.samples import Batch, BatchItems


def cache_key(parts: dict) -> str:
    """A short stable hash of what the features depend on (weights fingerprint, images, size)."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def weights_fingerprint(module: nn.Module) -> str:
    """Hash of a few parameter statistics: different weights give a different cache file."""
    stats = [float(p.detach().double().sum()) for p in module.parameters()][:64]
    return hashlib.sha1(repr(stats).encode()).hexdigest()[:16]


class FeatureCache:
    """N×C×h×w float32 features of N images in a .npy memmap (float32: results identical to no cache)."""

    def __init__(self, path: Path, features: np.ndarray) -> None:
        self.path = path
        self.features = features

    @classmethod
    def build(
        cls, folder: Path, backbone: nn.Module, batches: Iterable[torch.Tensor], count: int, key: str
    ) -> FeatureCache:
        """Load the cache for `key` if complete, else compute it from `batches` (normalised images of items
        0..count-1 in order; only iterated when building) with the backbone in eval mode."""
        path = folder / f"features-{key}.npy"
        if path.is_file():
            return cls(path, np.load(path, mmap_mode="r"))
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        was_training = backbone.training
        backbone.eval()
        memmap = None
        start = 0
        with torch.no_grad():
            for batch in batches:
                out = backbone(batch).float().cpu().numpy()  # B×C×h×w
                if memmap is None:
                    memmap = np.lib.format.open_memmap(
                        tmp, mode="w+", dtype=np.float32, shape=(count, *out.shape[1:])
                    )
                memmap[start : start + len(out)] = out
                start += len(out)
        backbone.train(was_training)
        assert memmap is not None, "no images to cache"
        memmap.flush()
        del memmap
        os.replace(tmp, path)  # complete files only: a crash mid-build leaves no half cache behind
        return cls(path, np.load(path, mmap_mode="r"))

    def __len__(self) -> int:
        return len(self.features)

    def batch(self, indices: np.ndarray) -> torch.Tensor:
        """Features of `indices` (B×C×h×w float32); fancy indexing on the memmap reads only those rows."""
        return torch.from_numpy(np.ascontiguousarray(self.features[np.asarray(indices)]))


class FeatureItems(BatchItems):
    """Training items read from the feature cache instead of image files: Batch.images holds B×C×h×w features."""

    cached = True

    def __init__(self, cache: FeatureCache, targets: np.ndarray) -> None:
        self.cache, self.targets = cache, np.asarray(targets)

    def __len__(self) -> int:
        return len(self.cache)

    def _read(self, indices: np.ndarray, seeds: np.ndarray) -> Batch:
        return Batch(
            self.cache.batch(indices), torch.from_numpy(self.targets[indices]), torch.from_numpy(indices)
        )

    def describe(self, index: int) -> str:
        return f"{self.cache.path} row {index}"
