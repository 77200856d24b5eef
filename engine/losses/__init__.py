"""Losses (torch side): the loss registry and the VPR metric-learning losses registered in it."""

from engine.losses import vpr  # noqa: F401  (registers the entries)
from engine.losses.vpr import LOSSES, build_loss

__all__ = ["LOSSES", "build_loss"]
