"""Router keys: spherical k-means initialisation over patch embeddings and the EMA update rule."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

KMEANS_ITERATIONS = 25


def kmeans(points: torch.Tensor, k: int, seed: int, iterations: int = KMEANS_ITERATIONS) -> torch.Tensor:
    """k centroids of N×D `points` by spherical k-means (cosine assignment, as the router scores them).

    k-means++ seeding draws from a generator seeded with `seed`, so the same points and seed give the
    same centroids. An emptied cluster keeps its previous centroid.

    Raises:
        ValueError: with fewer points than centroids.
    """
    if points.shape[0] < k:
        raise ValueError(f"k-means needs at least {k} embeddings (one per expert), got {points.shape[0]}")
    unit = F.normalize(points.detach().double(), dim=1)
    generator = torch.Generator().manual_seed(seed)
    first = int(torch.randint(unit.shape[0], (1,), generator=generator))
    chosen = [first]
    for _ in range(1, k):
        similarity = (unit @ unit[chosen].T).max(dim=1).values
        distance = (1.0 - similarity).clamp_min(0.0) + 1e-12
        chosen.append(int(torch.multinomial(distance.cpu(), 1, generator=generator)))
    centroids = unit[chosen].clone()
    for _ in range(iterations):
        assignment = (unit @ centroids.T).argmax(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, unit)
        counts = torch.bincount(assignment, minlength=k)
        filled = counts > 0
        centroids[filled] = F.normalize(sums[filled], dim=1)
    return centroids.to(points.dtype)


@torch.no_grad()
def ema_update(keys: torch.Tensor, values: torch.Tensor, present: torch.Tensor, alpha: float) -> None:
    """k_i ← α·k_i + (1−α)·v_i in place for the keys with `present` true (experts that got patches).

    Args:
        keys: n×D, updated in place outside the autograd graph.
        values: n×D, v_i = the mean embedding of the patches routed to expert i in this batch.
        present: n booleans.
        alpha: the EMA decay α in [0, 1].
    """
    updated = alpha * keys + (1.0 - alpha) * values.to(keys.dtype)
    keys.copy_(torch.where(present.view(-1, 1), updated, keys))


def assigned_means(
    embeddings: torch.Tensor, choices: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(k×D mean of the N×D embeddings per chosen expert, k booleans: expert got at least one patch).

    Under torch.distributed the sums and counts are all-reduced first, so every process moves its keys
    by the same global means and the EMA keys (parameters without gradients) stay identical across ranks.
    """
    sums = torch.zeros(k, embeddings.shape[1], dtype=embeddings.dtype, device=embeddings.device)
    sums.index_add_(0, choices, embeddings)
    counts = torch.bincount(choices, minlength=k).to(sums.dtype)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(sums)
        dist.all_reduce(counts)
    return sums / counts.clamp_min(1).unsqueeze(1), counts > 0
