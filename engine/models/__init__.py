"""Models (torch side): backbone, aggregator and head registries, the VPR, segmentation and classification
models built from them.

Importing the package imports every module that registers entries, so the registries are complete.
"""

from engine.models import (  # noqa: F401
    aggregators,
    backbones,
    boq,
    cls_model,
    feature_taps,
    heads,
    mixvpr,
    netvlad,
    pce,
    plain_cnn,
    salad,
    seg_heads,
    seg_model,
    vit_backbone,
    vpr_model,
)
from engine.models.aggregators import AGGREGATORS, build_aggregator
from engine.models.backbones import BACKBONES, build_backbone
from engine.models.cls_model import ClassificationModel, build_classification_model
from engine.models.heads import HEADS, build_head
from engine.models.seg_heads import SEG_HEADS, build_seg_head
from engine.models.seg_model import SegmentationModel, build_segmentation_model
from engine.models.vpr_model import VPRModel, build_vpr_model

__all__ = [
    "AGGREGATORS",
    "BACKBONES",
    "HEADS",
    "SEG_HEADS",
    "ClassificationModel",
    "SegmentationModel",
    "VPRModel",
    "build_aggregator",
    "build_backbone",
    "build_classification_model",
    "build_head",
    "build_seg_head",
    "build_segmentation_model",
    "build_vpr_model",
]
