"""Before training: data-driven aggregator init (NetVLAD k-means) and sizing of lazy layers (MixVPR)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.nn.parameter import UninitializedParameter

log = logging.getLogger(__name__)


def needs_initialisation(model: nn.Module) -> bool:
    """Whether `model.aggregator` wants a feature sample and has not had one (e.g. from a checkpoint)."""
    aggregator = getattr(model, "aggregator", None)
    done = getattr(aggregator, "initialised", None)
    return hasattr(aggregator, "init_from_features") and not (done is not None and bool(done))


@torch.no_grad()
def initialise_aggregator(
    model: nn.Module, images: Iterable[Any], max_descriptors: int = 50_000, seed: int = 0
) -> int:
    """Run the backbone over a few batches and hand a sample of local descriptors to the aggregator.

    Does nothing (and reads no image) unless the aggregator has `init_from_features` and is not
    initialised yet. The backbone runs in eval mode (BatchNorm statistics untouched) on the model's
    device; the model's train/eval mode is restored afterwards.

    Call it on the bare model (before DDP wrapping, which hides `aggregator`) after any checkpoint
    was loaded: NetVLAD's `initialised` flag is saved with it, so a resumed run skips k-means. Under
    DDP every rank must end with the same centres: run it on each rank with the same batches and
    seed, or on rank 0 and broadcast the aggregator's state.

    Args:
        model: A VPR model with `backbone` and `aggregator`.
        images: Batches of B×3×H×W images, or tuples/lists whose first item is that batch (a
            DataLoader); iteration stops once `max_descriptors` cells were seen, so pass as many
            batches as you are willing to spend (e.g. `itertools.islice(loader, 20)`).
        max_descriptors: Sample size handed over; cells beyond it are dropped at random.
        seed: Seed of the random subsample (and of k-means).

    Returns:
        The number of descriptors used (0 when nothing was needed).
    """
    if not needs_initialisation(model):
        return 0
    descriptors = _collect(model, images, max_descriptors)
    generator = torch.Generator().manual_seed(seed)
    keep = torch.randperm(len(descriptors), generator=generator)[:max_descriptors]
    sample = descriptors[keep]  # N×C
    model.aggregator.init_from_features(sample, seed=seed)
    log.info("aggregator initialised from %d local descriptors", len(sample))
    return len(sample)


def _collect(model: nn.Module, images: Iterable[Any], max_descriptors: int) -> torch.Tensor:
    """Local descriptors (one per feature-map cell) of successive batches, N×C on the CPU."""
    device = next(model.backbone.parameters()).device
    was_training = model.training
    model.backbone.eval()
    chunks: list[torch.Tensor] = []
    seen = 0
    try:
        for batch in images:
            batch = batch[0] if isinstance(batch, (tuple, list)) else batch
            features = model.backbone(batch.to(device))  # B×C×h×w
            cells = features.flatten(2).transpose(1, 2).reshape(-1, features.shape[1])  # (B·h·w)×C
            chunks.append(cells.float().cpu())  # a GPU->CPU sync per batch; this runs once
            seen += len(cells)
            if seen >= max_descriptors:
                break
    finally:
        model.train(was_training)
    if not chunks:
        raise ValueError("initialise_aggregator got no images")
    return torch.cat(chunks)


@torch.no_grad()
def materialize_lazy(model: nn.Module, image_size: tuple[int, int]) -> bool:
    """Size lazy layers (MixVPR with feature_hw null) with one dry forward of a blank image.

    Call it right after building the model, before counting parameters (`check`) or moving to DDP;
    a lazy parameter cannot report its size. Optimizers made earlier stay valid either way (torch
    materialises in place).

    Returns:
        True when there was something to size.
    """
    lazy = any(isinstance(p, UninitializedParameter) for p in model.parameters())
    if not lazy:
        return False
    device = next(p.device for p in model.parameters() if not isinstance(p, UninitializedParameter))
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, 3, *image_size, device=device))
    finally:
        model.train(was_training)
    return True
