"""Losses (torch side): the loss registry, VPR metric-learning and margin losses, and the loss mix."""

from engine.losses import margin, mix, vpr  # noqa: F401  (registers the entries)
from engine.losses.base import LOSSES, Loss, build_loss
from engine.losses.mix import LossMix

__all__ = ["LOSSES", "Loss", "LossMix", "build_loss"]
