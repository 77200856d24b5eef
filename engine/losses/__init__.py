"""Losses (torch side): the loss registry, VPR metric-learning and margin losses, losses on class logits
(classification, segmentation), and the loss mix."""

from engine.losses import logits, margin, mix, vpr  # noqa: F401  (registers the entries)
from engine.losses.base import LOSSES, Loss, build_loss, check_inputs
from engine.losses.logits import IGNORE_INDEX
from engine.losses.mix import LossMix

__all__ = ["IGNORE_INDEX", "LOSSES", "Loss", "LossMix", "build_loss", "check_inputs"]
