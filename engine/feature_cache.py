"""Backbone features computed once into a memory-mapped file, for runs whose backbone never trains.

When the backbone is frozen for the whole run and the input transform is deterministic (no augmentation),
every epoch would recompute the same features: the DINOv2 linear-probe case. The cache turns each later
step into a memory read plus the small trainable head.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn


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
    def build(cls, folder: Path, backbone: nn.Module, images: torch.Tensor,
              prepare: Callable[[torch.Tensor], torch.Tensor], batch_size: int, key: str) -> FeatureCache:
        """Load the cache for `key` if complete, else compute it batch by batch (backbone in eval mode)."""
        path = folder / f"features-{key}.npy"
        if path.is_file():
            return cls(path, np.load(path, mmap_mode="r"))
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        was_training = backbone.training
        backbone.eval()
        memmap = None
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                out = backbone(prepare(images[start:start + batch_size])).float().cpu().numpy()  # B×C×h×w
                if memmap is None:
                    memmap = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                                       shape=(len(images), *out.shape[1:]))
                memmap[start:start + len(out)] = out
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
