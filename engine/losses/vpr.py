"""VPR pair and triplet losses on place labels with online mining: multi-similarity, triplet, contrastive."""

from __future__ import annotations

import torch
from pytorch_metric_learning import losses, miners
from pytorch_metric_learning.distances import CosineSimilarity

from engine.core.errors import ConfigError
from engine.losses.base import KEY, LOSSES, Loss

TRIPLET_TYPES = ("all", "hard", "semihard", "easy")


class MultiSimilarity(Loss):
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

    def compute(self, descriptors: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """B×D descriptors, B place labels -> scalar loss (0 with a gradient when nothing is mined)."""
        pairs = self.miner(descriptors, labels)  # (anchor_p, positive, anchor_n, negative) indices
        self.last_pairs = (len(pairs[0]), len(pairs[2]))
        return self.loss(descriptors, labels, pairs)


class Triplet(Loss):
    """Triplet margin loss (Schroff et al., FaceNet 2015) on mined triplets, as in GSV-Cities.

    With Euclidean distances d between L2-normalised descriptors, each kept triplet (a, p, n) costs
    max(0, d_ap - d_an + margin); the loss is the mean over the triplets with a non-zero cost. The miner
    keeps, by `type_of_triplets` with m = d_an - d_ap: "semihard" 0 < m <= margin, "hard" m <= 0,
    "all" m <= margin, "easy" m > margin.

    Attributes:
        last_triplets: Number of triplets the miner kept on the last call, for logging.
    """

    def __init__(self, margin: float, type_of_triplets: str) -> None:
        super().__init__()
        self.loss = losses.TripletMarginLoss(
            margin=margin, swap=False, smooth_loss=False, triplets_per_anchor="all"
        )
        self.miner = miners.TripletMarginMiner(margin=margin, type_of_triplets=type_of_triplets)
        self.last_triplets = 0

    def compute(self, descriptors: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """B×D descriptors, B place labels -> scalar loss (0 with a gradient when nothing is mined)."""
        triplets = self.miner(descriptors, labels)  # (anchor, positive, negative) indices
        self.last_triplets = len(triplets[0])
        return self.loss(descriptors, labels, triplets)


class Contrastive(Loss):
    """Contrastive loss (Hadsell et al., CVPR 2006) on mined pairs, pytorch-metric-learning's form.

    With Euclidean distances d between L2-normalised descriptors, a kept positive pair costs
    max(0, d - pos_margin) and a kept negative pair max(0, neg_margin - d); each side is averaged over its
    pairs with a non-zero cost, and the two means are added. The miner (GSV-Cities' PairMarginMiner on
    cosine similarity S) keeps positives with S < miner_pos_margin and negatives with S > miner_neg_margin.

    Attributes:
        last_pairs: (positive, negative) pair counts the miner kept on the last call, for logging.
    """

    def __init__(
        self, pos_margin: float, neg_margin: float, miner_pos_margin: float, miner_neg_margin: float
    ) -> None:
        super().__init__()
        self.loss = losses.ContrastiveLoss(pos_margin=pos_margin, neg_margin=neg_margin)
        self.miner = miners.PairMarginMiner(
            pos_margin=miner_pos_margin, neg_margin=miner_neg_margin, distance=CosineSimilarity()
        )
        self.last_pairs = (0, 0)

    def compute(self, descriptors: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """B×D descriptors, B place labels -> scalar loss (0 with a gradient when nothing is mined)."""
        pairs = self.miner(descriptors, labels)
        self.last_pairs = (len(pairs[0]), len(pairs[2]))
        return self.loss(descriptors, labels, pairs)


def _check_positive(**values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ConfigError(f"{KEY}.{key}", f"must be positive, got {value}")


@LOSSES.register("multi_similarity")
def multi_similarity(
    embedding_dim: int,
    num_classes: int,
    alpha: float = 1.0,
    beta: float = 50.0,
    base: float = 0.0,
    miner_epsilon: float = 0.1,
) -> Loss:
    """Multi-similarity loss + miner on place labels (GSV-Cities / MixVPR settings)."""
    _check_positive(alpha=alpha, beta=beta)
    return MultiSimilarity(alpha, beta, base, miner_epsilon)


@LOSSES.register("triplet")
def triplet(
    embedding_dim: int, num_classes: int, margin: float = 0.1, type_of_triplets: str = "semihard"
) -> Loss:
    """Triplet margin loss on semi-hard mined triplets of place labels (GSV-Cities settings)."""
    _check_positive(margin=margin)
    if type_of_triplets not in TRIPLET_TYPES:
        message = f"'{type_of_triplets}' is not allowed; allowed: {', '.join(TRIPLET_TYPES)}"
        raise ConfigError(f"{KEY}.type_of_triplets", message)
    return Triplet(margin, type_of_triplets)


@LOSSES.register("contrastive")
def contrastive(
    embedding_dim: int,
    num_classes: int,
    pos_margin: float = 0.0,
    neg_margin: float = 1.0,
    miner_pos_margin: float = 0.7,
    miner_neg_margin: float = 0.3,
) -> Loss:
    """Contrastive loss on pairs mined by cosine-similarity margins (GSV-Cities settings)."""
    if not 0.0 <= pos_margin < neg_margin:
        message = f"need 0 <= pos_margin < neg_margin, got pos_margin={pos_margin}, neg_margin={neg_margin}"
        raise ConfigError(f"{KEY}.neg_margin", message)
    return Contrastive(pos_margin, neg_margin, miner_pos_margin, miner_neg_margin)
