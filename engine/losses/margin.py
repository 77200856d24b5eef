"""Large-margin classification losses over place classes, with learnt class centres: CosFace and ArcFace;
CosFace over CosPlace groups (one classifier per group, the groups trained in turn)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from pytorch_metric_learning import losses
from pytorch_metric_learning.utils import common_functions as c_f
from torch import nn

from engine.core.errors import ConfigError
from engine.data.cosplace_groups import KEY as COSPLACE_KEY
from engine.data.cosplace_groups import CosPlaceSettings
from engine.losses.base import KEY, LOSSES, Loss


class MarginSoftmax(Loss):
    """Cross-entropy on scaled cosines to learnt class centres, with a margin on the true class.

    The class centres are this module's only parameters (`weight`, D×num_classes), so the optimizer can
    give them their own param group (`optim.loss_lr_mult`).
    """

    one_image_per_class = True

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


class GroupedMarginSoftmax(Loss):
    """One margin classifier per CosPlace group; each batch holds classes of one group and trains its classifier.

    Classes are numbered group after group (`group_sizes` in training order), so a label says its group.
    Every group's centres are parameters of this module and sit in the optimizer's "loss" group: a
    classifier whose group is not being trained gets no gradient (None), and Adam/AdamW/SGD skip a
    parameter without one — its weights and moments stay as they were, exactly as CosPlace's separate
    per-group optimizers leave them. One optimizer also keeps checkpoints and resumes whole.

    Attributes:
        last_group: The group (position in training order) of the last batch, for logging.
    """

    one_image_per_class = True
    offsets: torch.Tensor  # (G+1,) first class of each group, then the class count

    def __init__(self, group_sizes: Sequence[int], make: Callable[[int], MarginSoftmax]) -> None:
        super().__init__()
        self.groups = nn.ModuleList([make(size) for size in group_sizes])
        offsets = torch.tensor([0, *list(group_sizes)], dtype=torch.long).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)
        self.last_group = 0

    def compute(self, descriptors: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """B×D descriptors, B class indices of one group -> that group's classifier loss."""
        groups = torch.searchsorted(self.offsets, labels, right=True) - 1
        group = int(groups[0])
        if bool((groups != group).any()):
            raise ValueError("a CosPlace batch must hold classes of one group only")
        self.last_group = group
        return self.groups[group](descriptors, labels - self.offsets[group])


def small_centres() -> c_f.TorchInitWrapper:
    """Xavier-uniform class centres, as CosPlace's MarginCosineProduct (pytorch-metric-learning draws N(0, 1)).

    Only the centres' directions count, so what an optimizer step does is its size relative to theirs: with
    N(0, 1) centres an Adam step of 1e-2 turns a centre by about 1 %, with Xavier's (bound sqrt(6 / (D + C)),
    ~0.03) by about a third, and centres of classes seen a few times per group learn at all.
    """
    return c_f.TorchInitWrapper(nn.init.xavier_uniform_)


class CosFace(MarginSoftmax):
    """CosFace / large-margin cosine loss (Wang et al., CVPR 2018).

    logits_j = scale * (cos(x, W_j) - margin * [j == y]); loss = cross-entropy, averaged over the batch.
    """

    def __init__(self, embedding_dim: int, num_classes: int, margin: float, scale: float) -> None:
        super().__init__(
            losses.CosFaceLoss(
                num_classes=num_classes,
                embedding_size=embedding_dim,
                margin=margin,
                scale=scale,
                weight_init_func=small_centres(),
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
                num_classes=num_classes,
                embedding_size=embedding_dim,
                margin=margin,
                scale=scale,
                weight_init_func=small_centres(),
            )
        )


def _check_classes(name: str, num_classes: int, scale: float) -> None:
    if num_classes < 2:
        raise ConfigError(f"{KEY}.name", f"{name} needs at least 2 place classes, the data has {num_classes}")
    if scale <= 0:
        raise ConfigError(f"{KEY}.scale", f"must be positive, got {scale}")


@LOSSES.register("cosface")
def cosface(
    embedding_dim: int,
    num_classes: int | Sequence[int],
    margin: float = 0.4,
    scale: float = 30.0,
    cosplace: dict[str, Any] | None = None,
) -> Loss:
    """CosFace (large margin cosine) classification over place classes (CosPlace settings).

    With `cosplace` settings (engine.data.cosplace_groups), the VPR task passes the class count of each
    trained group as `num_classes` and gets one classifier per group.
    """
    if cosplace is None:
        if not isinstance(num_classes, int):
            raise TypeError("cosface without loss.cosplace takes one class count")
        _check_classes("cosface", num_classes, scale)
        return CosFace(embedding_dim, num_classes, margin, scale)
    CosPlaceSettings.parse(cosplace)
    if isinstance(num_classes, int):
        raise ConfigError(
            COSPLACE_KEY,
            "CosPlace groups are made by the VPR task from its training set; they cannot be a loss-mix component",
        )
    for size in num_classes:
        _check_classes("cosface", size, scale)
    return GroupedMarginSoftmax(num_classes, lambda size: CosFace(embedding_dim, size, margin, scale))


@LOSSES.register("arcface")
def arcface(embedding_dim: int, num_classes: int, margin: float = 28.6, scale: float = 64.0) -> Loss:
    """ArcFace (additive angular margin, margin in degrees) classification over place classes."""
    _check_classes("arcface", num_classes, scale)
    if not 0.0 <= margin < 90.0:
        raise ConfigError(f"{KEY}.margin", f"is an angle in degrees, must be in [0, 90), got {margin}")
    return ArcFace(embedding_dim, num_classes, margin, scale)
