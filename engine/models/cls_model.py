"""The classification model: backbone -> aggregator (global pooling) -> head to one logit per class."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.core.errors import ConfigError
from engine.models.aggregator_init import materialize_lazy
from engine.models.aggregators import build_aggregator
from engine.models.backbones import build_backbone
from engine.models.heads import build_head

GROUPS = ("backbone", "aggregator", "head")


class ClassificationModel(nn.Module):
    """Image -> class logits (no normalisation: the losses take raw scores).

    Attributes:
        backbone: B×3×H×W -> B×C×h×w, with `out_channels` and `stride`.
        aggregator: B×C×h×w -> B×A (the VPR aggregator registry: avg, gem, ...).
        head: B×A -> B×K, the VPR head registry with descriptor size K = the class count (linear, mlp).
        num_classes: K.
    """

    def __init__(self, backbone: nn.Module, aggregator: nn.Module, head: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.aggregator = aggregator
        self.head = head
        self.num_classes = num_classes

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """B×3×H×W -> B×K logits."""
        return self.head(self.aggregator(self.backbone(images)))

    def module_groups(self) -> dict[str, nn.Module]:
        """The groups the freeze schedule and the optimizer's param groups address, by name."""
        return {"backbone": self.backbone, "aggregator": self.aggregator, "head": self.head}


def build_classification_model(model_section: dict[str, Any], num_classes: int) -> ClassificationModel:
    """Build a `ClassificationModel` from the resolved `model` section (model.descriptor_dim is not used).

    Raises:
        ConfigError: for a bad sub-section value, or a head that does not end at the class count.
    """
    image_size = (int(model_section["image_size"][0]), int(model_section["image_size"][1]))
    backbone = build_backbone(model_section["backbone"], image_size)
    aggregator = build_aggregator(model_section["aggregator"], backbone.out_channels)
    head = build_head(model_section["head"], aggregator.out_dim, num_classes)
    if head.out_dim != num_classes:
        raise ConfigError(
            "model.head.name",
            f"'{model_section['head']['name']}' gives {head.out_dim} outputs, "
            f"classification needs one per class ({num_classes}); use linear or mlp",
        )
    model = ClassificationModel(backbone, aggregator, head, num_classes)
    materialize_lazy(
        model, image_size
    )  # lazy layers (MixVPR) must know their size before counting or optimising
    return model
