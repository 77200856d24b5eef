"""Models (torch side): backbone, aggregator and head registries and the VPR model built from them.

Importing the package imports every module that registers entries, so the registries are complete.
"""

from engine.models import (  # noqa: F401
    aggregators,
    backbones,
    boq,
    heads,
    mixvpr,
    netvlad,
    plain_cnn,
    salad,
    vit_backbone,
    vpr_model,
)
from engine.models.aggregators import AGGREGATORS, build_aggregator
from engine.models.backbones import BACKBONES, build_backbone
from engine.models.heads import HEADS, build_head
from engine.models.vpr_model import VPRModel, build_vpr_model, parameter_table

__all__ = [
    "AGGREGATORS",
    "BACKBONES",
    "HEADS",
    "VPRModel",
    "build_aggregator",
    "build_backbone",
    "build_head",
    "build_vpr_model",
    "parameter_table",
]
