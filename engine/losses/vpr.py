"""VPR losses on L2-normalised descriptors: multi-similarity with online mining, and CosFace over places."""

from __future__ import annotations

from typing import Any

import torch
from pytorch_metric_learning import losses, miners
from pytorch_metric_learning.distances import CosineSimilarity
from torch import nn

from engine.errors import ConfigError
from engine.registry import Registry

LOSSES = Registry("loss", "loss.name")
_KEY = "loss"
# Keys the config resolver keeps for display; they are not factory parameters.
_BOOKKEEPING = ("preset", "description")


class MultiSimilarity(nn.Module):
    """Multi-similarity loss (Wang et al., CVPR 2019) on the pairs its miner keeps, as in GSV-Cities.

    For anchor i with kept positives P_i and negatives N_i (cosine similarities S):
    L_i = 1/alpha * log(1 + sum_P exp(-alpha (S_ip - base)))
        + 1/beta * log(1 + sum_N exp(beta (S_in - base))),
    averaged over the batch. The miner keeps a negative if S_in + epsilon > min_p S_ip and a positive if
    S_ip - epsilon < max_n S_in (the paper's hard-pair rule).

    Attributes:
        last_pairs: (positive, negative) pair counts the miner kept on the last call, for logging.
    """

    def __init__(self, alpha: float, beta: float, base: float, miner_epsilon: float) -> None:
        super().__init__()
        # Cosine rather than dot product: equal on unit descriptors, and still correct if a caller
        # passes unnormalised ones.
        self.loss = losses.MultiSimilarityLoss(alpha=alpha, beta=beta, base=base, distance=CosineSimilarity())
        self.miner = miners.MultiSimilarityMiner(epsilon=miner_epsilon, distance=CosineSimilarity())
        self.last_pairs = (0, 0)

    def forward(self, descriptors: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """B×D descriptors, B place labels -> scalar loss (0 with a gradient when nothing is mined)."""
        # Float32 outside autocast: exp(beta * S) with beta=50 overflows in half precision.
        with torch.autocast(descriptors.device.type, enabled=False):
            descriptors = descriptors.float()
            pairs = self.miner(descriptors, labels)  # (anchor_p, positive, anchor_n, negative) indices
            self.last_pairs = (len(pairs[0]), len(pairs[2]))
            return self.loss(descriptors, labels, pairs)


class CosFace(nn.Module):
    """CosFace / large-margin cosine loss (Wang et al., CVPR 2018) with one learnt weight per place.

    logits_j = scale * (cos(x, W_j) - margin * [j == y]); loss = cross-entropy, averaged over the batch.
    The class weights are this module's parameters (`weight`, D×num_classes), so the optimizer can give
    them their own param group.
    """

    def __init__(self, embedding_dim: int, num_classes: int, margin: float, scale: float) -> None:
        super().__init__()
        self.loss = losses.CosFaceLoss(num_classes=num_classes, embedding_size=embedding_dim,
                                       margin=margin, scale=scale)

    @property
    def weight(self) -> nn.Parameter:
        """Class centres, D×num_classes (pytorch-metric-learning's layout)."""
        return self.loss.W

    def forward(self, descriptors: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """B×D descriptors, B class indices in [0, num_classes) -> scalar loss."""
        # Float32 outside autocast: margins of 0.4 on cosines need more precision than bf16 gives.
        with torch.autocast(descriptors.device.type, enabled=False):
            return self.loss(descriptors.float(), labels)


@LOSSES.register("multi_similarity")
def multi_similarity(embedding_dim: int, num_classes: int, alpha: float = 1.0, beta: float = 50.0,
                     base: float = 0.0, miner_epsilon: float = 0.1) -> nn.Module:
    """Multi-similarity loss + miner on place labels (GSV-Cities / MixVPR settings)."""
    for key, value in (("alpha", alpha), ("beta", beta)):
        if value <= 0:
            raise ConfigError(f"{_KEY}.{key}", f"must be positive, got {value}")
    return MultiSimilarity(alpha, beta, base, miner_epsilon)


@LOSSES.register("cosface")
def cosface(embedding_dim: int, num_classes: int, margin: float = 0.4, scale: float = 30.0) -> nn.Module:
    """CosFace (large margin cosine) classification over place classes (CosPlace settings)."""
    if num_classes < 2:
        message = f"cosface needs at least 2 place classes, the data has {num_classes}"
        raise ConfigError(f"{_KEY}.name", message)
    return CosFace(embedding_dim, num_classes, margin, scale)


def build_loss(section: dict[str, Any], embedding_dim: int, num_classes: int) -> nn.Module:
    """Build the loss a resolved `loss` section describes.

    Args:
        section: `{"name": ..., **params}`.
        embedding_dim: Descriptor size D the model outputs.
        num_classes: Number of place classes in the training set (used by classification losses).

    Returns:
        A module called as `loss(descriptors B×D, labels B) -> scalar tensor`.
    """
    params = {k: v for k, v in section.items() if k not in _BOOKKEEPING}
    return LOSSES.build(str(params.pop("name")), embedding_dim, num_classes, **params)
