"""Positional Convolution Experts (experiment log 002): the `pce` backbone, its routers and routing diagnostics.

Importing the package registers the backbone in `BACKBONES`.
"""

from engine.models.pce.backbone import PCEBackbone, pce
from engine.models.pce.routers import ROUTERS, RouterBank

__all__ = ["ROUTERS", "PCEBackbone", "RouterBank", "pce"]
