"""NetVLAD (Arandjelović et al., CVPR 2016): soft-assigned residuals to cluster centres; k-means init."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.errors import ConfigError, UserError
from engine.models.aggregators import AGGREGATORS

_KEY = "model.aggregator"


class NetVLAD(nn.Module):
    """Soft-assignment VLAD: for each cluster k, the sum over cells of a_k(x) (x - c_k), intra-normalised.

    The assignment is a 1×1 conv followed by a softmax over clusters. It is initialised as in the
    paper (eq. 3): w_k = 2α c_k and b_k = -α ||c_k||², so softmax_k(w_k·x + b_k) = softmax_k(-α ||x - c_k||²)
    (the ||x||² term is the same for every k and cancels): a soft nearest-centre assignment whose
    sharpness is α. Centres and conv are then trained independently, as in the paper.
    Random centres are a placeholder; call `init_from_features` with a sample of local features
    before training (`engine.models.aggregator_init.initialise_aggregator` does this).

    Attributes:
        out_dim: Descriptor size D = clusters × C.
        centroids: K×C cluster centres.
        alpha: Assignment sharpness used to (re)initialise the conv.
        initialised: Whether the centres come from k-means.
    """

    def __init__(
        self, in_channels: int, clusters: int = 64, alpha: float = 100.0, normalize_input: bool = True
    ) -> None:
        super().__init__()
        self.clusters = clusters
        self.alpha = alpha
        self.normalize_input = normalize_input
        self.out_dim = clusters * in_channels
        self.assign = nn.Conv2d(in_channels, clusters, kernel_size=1, bias=True)
        # Centres on the unit sphere, where normalised descriptors live.
        self.centroids = nn.Parameter(F.normalize(torch.randn(clusters, in_channels), dim=1))
        # A buffer, so it is saved with checkpoints: a resumed run does not redo k-means.
        self.register_buffer("initialised", torch.tensor(False))
        self._init_assignment()

    @torch.no_grad()
    def _init_assignment(self) -> None:
        """Conv weights from the centres: w_k = 2α c_k, b_k = -α ||c_k||²."""
        self.assign.weight.copy_((2.0 * self.alpha * self.centroids)[:, :, None, None])
        self.assign.bias.copy_(-self.alpha * self.centroids.pow(2).sum(dim=1))

    @torch.no_grad()
    def init_from_features(self, features: torch.Tensor, seed: int = 0) -> None:
        """Set the centres to the k-means centres of a feature sample, and the assignment conv to match.

        Args:
            features: N×C local descriptors (N ≥ clusters), raw backbone outputs; they are
                L2-normalised here when `normalize_input` is set, as in `forward`.
            seed: k-means seed.
        """
        if self.normalize_input:
            features = F.normalize(features, dim=1)
        centres = kmeans_centroids(features, self.clusters, seed=seed)
        self.centroids.copy_(centres.to(self.centroids))
        self._init_assignment()
        self.initialised.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×C×h×w -> B×(K·C), unit L2 norm."""
        if self.normalize_input:
            x = F.normalize(x, dim=1)  # per cell, across channels
        soft = F.softmax(self.assign(x).flatten(2), dim=1)  # B×K×n: each cell's weights over clusters
        cells = x.flatten(2)  # B×C×n
        # Σ_i a_k(x_i) (x_i - c_k) = Σ_i a_k(x_i) x_i - (Σ_i a_k(x_i)) c_k, without a B×K×C×n tensor.
        vlad = torch.einsum("bkn,bcn->bkc", soft, cells) - soft.sum(dim=-1, keepdim=True) * self.centroids
        vlad = F.normalize(vlad, dim=2)  # intra-normalisation, per cluster
        return F.normalize(vlad.flatten(1), dim=1)

    def extra_repr(self) -> str:
        return f"clusters={self.clusters}, alpha={self.alpha}, normalize_input={self.normalize_input}"


def kmeans_centroids(features: torch.Tensor, k: int, seed: int = 0, iterations: int = 100) -> torch.Tensor:
    """k-means centres of N×C features with faiss (the field's standard, as in gmberton's benchmark).

    Raises:
        UserError: when there are fewer features than clusters.
    """
    import faiss  # heavy and only needed here

    data = features.detach().float().cpu().contiguous().numpy()
    if data.shape[0] < k:
        raise UserError(
            f"NetVLAD k-means needs at least {k} local features (one per cluster), got "
            f"{data.shape[0]}; use more images for the initialisation"
        )
    kmeans = faiss.Kmeans(data.shape[1], k, niter=iterations, seed=seed, verbose=False)
    kmeans.train(data)
    return torch.from_numpy(kmeans.centroids.copy())  # K×C


@AGGREGATORS.register("netvlad")
def netvlad(
    in_channels: int, clusters: int = 64, alpha: float = 100.0, normalize_input: bool = True
) -> nn.Module:
    """NetVLAD with k-means-initialised clusters (descriptor size = clusters × backbone channels)."""
    if clusters < 1:
        raise ConfigError(f"{_KEY}.clusters", f"must be a positive integer, got {clusters}")
    if alpha <= 0:
        raise ConfigError(f"{_KEY}.alpha", f"must be positive, got {alpha}")
    return NetVLAD(in_channels, clusters, alpha, normalize_input)
