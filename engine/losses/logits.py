"""Losses on class logits, for classification (N×C logits, N labels) and segmentation (N×C×H×W, N×H×W).

Targets are class indices; IGNORE_INDEX marks unlabelled pixels (the segmentation task maps its
`task.ignore_index` to it), which add nothing to any loss. Cross entropy is torch's; focal, Dice,
Lovász-softmax and Tversky are segmentation_models_pytorch's, in multiclass mode.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from segmentation_models_pytorch import losses as smp_losses
from torch import nn

from engine.core.errors import ConfigError
from engine.losses.base import KEY, LOSSES, Loss

#: Target value of unlabelled pixels (torch's default ignore_index; never a class index).
IGNORE_INDEX = -100
#: Names of the losses registered here, in registration order: what the logit tasks allow (plus `mix`).
LOGIT_LOSSES: list[str] = []


def _register(name: str):  # type: ignore[no-untyped-def]
    """LOSSES.register that also lists the entry in LOGIT_LOSSES."""
    LOGIT_LOSSES.append(name)
    return LOSSES.register(name)


class LogitLoss(Loss):
    """A loss on class logits (`inputs = "logits"`): the segmentation and classification tasks accept these."""

    inputs = "logits"


class CrossEntropy(LogitLoss):
    """Cross entropy with optional class weights and label smoothing (torch's definition).

    The mean is taken as torch takes it (over labelled targets, weighted by their class weight); a batch
    with no labelled target gives 0 rather than NaN.
    """

    def __init__(self, class_weights: torch.Tensor | None, label_smoothing: float) -> None:
        super().__init__()
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.label_smoothing = label_smoothing

    def compute(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """N×C(×H×W) logits, N(×H×W) class indices -> scalar."""
        total = F.cross_entropy(
            logits,
            targets,
            weight=self.class_weights,
            ignore_index=IGNORE_INDEX,
            reduction="sum",
            label_smoothing=self.label_smoothing,
        )
        labelled = targets != IGNORE_INDEX
        if self.class_weights is None:
            norm = labelled.sum()
        else:
            norm = (self.class_weights[targets.clamp(min=0)] * labelled).sum()
        return total / norm.clamp(min=1e-12)


class SmpLoss(LogitLoss):
    """A segmentation_models_pytorch multiclass loss with IGNORE_INDEX, giving 0 when nothing is labelled.

    Focal and Lovász average over the labelled pixels and give NaN when there are none, so for them
    (`guard_empty`) that case is checked first; they select pixels by boolean indexing anyway, so the
    check adds no device sync that was not there. Dice and Tversky already give 0 and are left alone.
    """

    def __init__(self, loss: nn.Module, guard_empty: bool = False) -> None:
        super().__init__()
        self.loss = loss
        self.guard_empty = guard_empty

    def compute(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """N×C(×H×W) logits, N(×H×W) class indices -> scalar."""
        if self.guard_empty and not bool((targets != IGNORE_INDEX).any()):
            return logits.sum() * 0.0  # a zero with a graph, so backward() still works
        return self.loss(logits, targets)


def _weights(class_weights: Any, num_classes: int) -> torch.Tensor | None:
    """None, or a list of num_classes numbers >= 0 as a float tensor."""
    if class_weights is None:
        return None
    if (
        not isinstance(class_weights, list)
        or len(class_weights) != num_classes
        or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in class_weights)
    ):
        raise ConfigError(
            f"{KEY}.class_weights",
            f"expected null or a list of {num_classes} numbers >= 0 (one per class), got {class_weights!r}",
        )
    return torch.tensor(class_weights, dtype=torch.float32)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{KEY}.{name}", f"must be in [{low}, {high}], got {value}")


@_register("ce")
def ce(
    embedding_dim: int, num_classes: int, class_weights: list | None = None, label_smoothing: float = 0.0
) -> Loss:
    """Cross entropy on class logits (classification or per pixel), optional class weights and label smoothing."""
    _check_range("label_smoothing", label_smoothing, 0.0, 1.0)
    return CrossEntropy(_weights(class_weights, num_classes), label_smoothing)


@_register("focal")
def focal(embedding_dim: int, num_classes: int, gamma: float = 2.0, alpha: float | None = None) -> Loss:
    """Focal loss (Lin et al., 2017), one-vs-rest per class, mean over classes (smp, multiclass)."""
    _check_range("gamma", gamma, 0.0, 10.0)
    if alpha is not None:
        _check_range("alpha", alpha, 0.0, 1.0)
    return SmpLoss(
        smp_losses.FocalLoss("multiclass", alpha=alpha, gamma=gamma, ignore_index=IGNORE_INDEX),
        guard_empty=True,
    )


@_register("dice")
def dice(embedding_dim: int, num_classes: int, smooth: float = 0.0, log_loss: bool = False) -> Loss:
    """Soft Dice loss over the classes present in the batch (smp, multiclass)."""
    _check_range("smooth", smooth, 0.0, 1e6)
    return SmpLoss(
        smp_losses.DiceLoss("multiclass", smooth=smooth, log_loss=log_loss, ignore_index=IGNORE_INDEX)
    )


@_register("lovasz")
def lovasz(embedding_dim: int, num_classes: int, per_image: bool = False) -> Loss:
    """Lovász-softmax (Berman et al., 2018): a convex surrogate of the IoU of the classes present (smp)."""
    return SmpLoss(
        smp_losses.LovaszLoss("multiclass", per_image=per_image, ignore_index=IGNORE_INDEX), guard_empty=True
    )


@_register("tversky")
def tversky(
    embedding_dim: int, num_classes: int, alpha: float = 0.5, beta: float = 0.5, gamma: float = 1.0
) -> Loss:
    """Tversky loss: Dice with false positives weighted by alpha, false negatives by beta (smp, multiclass)."""
    _check_range("alpha", alpha, 0.0, 1.0)
    _check_range("beta", beta, 0.0, 1.0)
    _check_range("gamma", gamma, 0.1, 10.0)
    return SmpLoss(
        smp_losses.TverskyLoss("multiclass", alpha=alpha, beta=beta, gamma=gamma, ignore_index=IGNORE_INDEX)
    )
