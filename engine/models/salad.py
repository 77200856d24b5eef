"""SALAD (Izquierdo & Civera, CVPR 2024): cells assigned to clusters by optimal transport, with a dustbin."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.errors import ConfigError
from engine.models.aggregators import AGGREGATORS

_KEY = "model.aggregator"
_HIDDEN = 512  # width of the three small MLPs, as in the paper
_SINKHORN_ITERS = 3  # as in the paper: a few iterations are enough and keep gradients well behaved


def _mlp(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    """1×1 conv -> dropout -> ReLU -> 1×1 conv: a per-cell MLP."""
    return nn.Sequential(
        nn.Conv2d(in_channels, _HIDDEN, 1),
        nn.Dropout(dropout),
        nn.ReLU(),
        nn.Conv2d(_HIDDEN, out_channels, 1),
    )


def sinkhorn_assignment(
    scores: torch.Tensor, dustbin: torch.Tensor, iters: int = _SINKHORN_ITERS
) -> torch.Tensor:
    """Soft assignment of n cells to m clusters plus a dustbin, by entropic optimal transport in log space.

    Each cluster receives mass 1/(m+n), each cell gives 1/(m+n), and the dustbin absorbs the rest,
    (n-m)/(m+n): so clusters cannot all grab the same cells and uninformative cells can go to the
    dustbin. With fewer cells than clusters (tiny test images) the dustbin keeps one cell's mass.

    Args:
        scores: B×m×n cell-to-cluster scores.
        dustbin: Scalar score of the dustbin row.
        iters: Sinkhorn iterations.

    Returns:
        B×m×n transport plan scaled by (m+n), so a cell's weights over clusters and dustbin sum to ~1.
    """
    b, m, n = scores.shape
    couplings = torch.cat([scores, dustbin.expand(b, 1, n)], dim=1)  # B×(m+1)×n
    norm = -math.log(m + n)
    log_mu = torch.full((m + 1,), norm, device=scores.device, dtype=scores.dtype)
    log_mu[-1] = math.log(max(n - m, 1)) + norm
    log_nu = torch.full((n,), norm, device=scores.device, dtype=scores.dtype)
    u, v = torch.zeros_like(couplings[:, :, 0]), torch.zeros_like(couplings[:, 0, :])  # B×(m+1), B×n
    for _ in range(iters):
        u = log_mu - torch.logsumexp(couplings + v.unsqueeze(1), dim=2)
        v = log_nu - torch.logsumexp(couplings + u.unsqueeze(2), dim=1)
    return (couplings + u.unsqueeze(2) + v.unsqueeze(1) - norm).exp()[:, :m]  # dustbin row dropped


class SALAD(nn.Module):
    """Sinkhorn Algorithm for Locally Aggregated Descriptors.

    Per cell: an l-dim feature and m cluster scores (small MLPs); Sinkhorn turns the scores into an
    assignment; each cluster sums its cells' features (intra-normalised). A global token, projected
    to `token_dim`, is concatenated in front. The paper uses the DINOv2 CLS token; our backbones hand
    on a map only, so the global token is the mean of the feature map unless `forward` is given one.

    Attributes:
        out_dim: Descriptor size D = token_dim + num_clusters × cluster_dim.
    """

    def __init__(
        self,
        in_channels: int,
        num_clusters: int = 64,
        cluster_dim: int = 128,
        token_dim: int = 256,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.out_dim = token_dim + num_clusters * cluster_dim
        self.token_features = nn.Sequential(
            nn.Linear(in_channels, _HIDDEN), nn.ReLU(), nn.Linear(_HIDDEN, token_dim)
        )
        self.cluster_features = _mlp(in_channels, cluster_dim, dropout)
        self.score = _mlp(in_channels, num_clusters, dropout)
        self.dustbin = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor, global_token: torch.Tensor | None = None) -> torch.Tensor:
        """B×C×h×w (and optionally a B×C global token) -> B×D, unit L2 norm."""
        if global_token is None:
            global_token = x.mean(dim=(-2, -1))  # B×C
        features = self.cluster_features(x).flatten(2)  # B×l×n
        # Float32: the log-space transport and its exp lose too much in half precision.
        plan = sinkhorn_assignment(self.score(x).flatten(2).float(), self.dustbin.float())  # B×m×n
        clusters = torch.einsum("bln,bmn->blm", features.float(), plan)  # B×l×m
        clusters = F.normalize(clusters, dim=1).flatten(1)  # intra-normalised per cluster
        token = F.normalize(self.token_features(global_token).float(), dim=-1)  # B×token_dim
        return F.normalize(torch.cat([token, clusters], dim=-1), dim=-1)


@AGGREGATORS.register("salad")
def salad(
    in_channels: int,
    num_clusters: int = 64,
    cluster_dim: int = 128,
    token_dim: int = 256,
    dropout: float = 0.3,
) -> nn.Module:
    """SALAD optimal-transport aggregation (descriptor size = token_dim + num_clusters × cluster_dim)."""
    sizes = (("num_clusters", num_clusters), ("cluster_dim", cluster_dim), ("token_dim", token_dim))
    for name, value in sizes:
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{_KEY}.{name}", f"must be a positive integer, got {value!r}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"{_KEY}.dropout", f"must be in [0, 1), got {dropout}")
    return SALAD(in_channels, num_clusters, cluster_dim, token_dim, dropout)
