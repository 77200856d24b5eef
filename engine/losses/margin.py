"""Large-margin classification losses over place classes, with learnt class centres: CosFace and ArcFace."""

from __future__ import annotations

import torch
from pytorch_metric_learning import losses
from torch import nn

from engine.core.errors import ConfigError
from engine.losses.base import KEY, LOSSES, Loss


class MarginSoftmax(Loss):
    """Cross-entropy on scaled cosines to learnt class centres, with a margin on the true class.

    The class centres are this module's only parameters (`weight`, D×num_classes), so the optimizer can
    give them their own param group (`optim.loss_lr_mult`).
    """

    def __init__(self, loss: losses.LargeMarginSoftmaxLoss) -> None:
        super().__init__()
        self.loss = loss

    @property
    def weight(self) -> nn.Parameter:
        """Class centres, D×num_classes (pytorch-metric-learning's layout)."""
        return self.loss.W

    def compute(self, descriptors: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """B×D descriptors, B class indices in [0, num_classes) -> scalar loss, mean over the batch."""
        return self.loss(descriptors, labels)


class CosFace(MarginSoftmax):
    """CosFace / large-margin cosine loss (Wang et al., CVPR 2018).

    logits_j = scale * (cos(x, W_j) - margin * [j == y]); loss = cross-entropy, averaged over the batch.
    """

    def __init__(self, embedding_dim: int, num_classes: int, margin: float, scale: float) -> None:
        super().__init__(
            losses.CosFaceLoss(
                num_classes=num_classes, embedding_size=embedding_dim, margin=margin, scale=scale
            )
        )


class ArcFace(MarginSoftmax):
    """ArcFace / additive angular margin loss (Deng et al., CVPR 2019), pytorch-metric-learning's form.

    With θ_j the angle between x and W_j and m the margin in radians: logits_j = scale * cos(θ_j) for
    j != y, and scale * cos(θ_y + m) for the true class while θ_y <= π - m, else
    scale * (cos(θ_y) - m sin(m)) (keeps the logit decreasing in θ_y). `margin` is given in degrees.
    """

    def __init__(self, embedding_dim: int, num_classes: int, margin: float, scale: float) -> None:
        super().__init__(
            losses.ArcFaceLoss(
                num_classes=num_classes, embedding_size=embedding_dim, margin=margin, scale=scale
            )
        )


def _check_classes(name: str, num_classes: int, scale: float) -> None:
    if num_classes < 2:
        raise ConfigError(f"{KEY}.name", f"{name} needs at least 2 place classes, the data has {num_classes}")
    if scale <= 0:
        raise ConfigError(f"{KEY}.scale", f"must be positive, got {scale}")


@LOSSES.register("cosface")
def cosface(embedding_dim: int, num_classes: int, margin: float = 0.4, scale: float = 30.0) -> Loss:
    """CosFace (large margin cosine) classification over place classes (CosPlace settings)."""
    _check_classes("cosface", num_classes, scale)
    return CosFace(embedding_dim, num_classes, margin, scale)


@LOSSES.register("arcface")
def arcface(embedding_dim: int, num_classes: int, margin: float = 28.6, scale: float = 64.0) -> Loss:
    """ArcFace (additive angular margin, margin in degrees) classification over place classes."""
    _check_classes("arcface", num_classes, scale)
    if not 0.0 <= margin < 90.0:
        raise ConfigError(f"{KEY}.margin", f"is an angle in degrees, must be in [0, 90), got {margin}")
    return ArcFace(embedding_dim, num_classes, margin, scale)
