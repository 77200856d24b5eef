"""The VPR model (backbone -> aggregator -> head -> L2 normalisation) and its per-group parameter table."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.errors import ConfigError
from engine.models.aggregator_init import materialize_lazy
from engine.models.aggregators import build_aggregator
from engine.models.backbones import build_backbone
from engine.models.heads import build_head

GROUPS = ("backbone", "aggregator", "head")


class VPRModel(nn.Module):
    """Image -> unit-length global descriptor, as in CosPlace / GSV-Cities.

    Attributes:
        backbone: B×3×H×W -> B×C×h×w, with `out_channels` and `stride`.
        aggregator: B×C×h×w -> B×A, with `out_dim`.
        head: B×A -> B×D, with `out_dim`.
        descriptor_dim: D, the size of the descriptors `forward` returns.
        image_size: (height, width) the model is trained and evaluated at.
    """

    def __init__(
        self, backbone: nn.Module, aggregator: nn.Module, head: nn.Module, image_size: tuple[int, int]
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.aggregator = aggregator
        self.head = head
        self.descriptor_dim = int(head.out_dim)
        self.image_size = image_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """B×3×H×W images -> B×D descriptors with unit L2 norm."""
        features = self.backbone(images)  # B×C×h×w
        pooled = self.aggregator(features)  # B×A
        return F.normalize(self.head(pooled), p=2, dim=-1)  # B×D

    def descriptors_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """B×C×h×w backbone features (e.g. from a feature cache) -> B×D unit descriptors."""
        return F.normalize(self.head(self.aggregator(features)), p=2, dim=-1)

    def module_groups(self) -> dict[str, nn.Module]:
        """The groups the freeze schedule and the optimizer's param groups address, by name."""
        return {"backbone": self.backbone, "aggregator": self.aggregator, "head": self.head}


def build_vpr_model(model_section: dict[str, Any]) -> VPRModel:
    """Build a `VPRModel` from the resolved `model` section.

    Args:
        model_section: `{"backbone": {...}, "aggregator": {...}, "head": {...}, "descriptor_dim": int,
            "image_size": [H, W]}`; each sub-section is `{"name": ..., **params}`.

    Raises:
        ConfigError: for a bad image size or any bad sub-section value (naming its key).
    """
    image_size = _image_size(model_section.get("image_size"))
    backbone = build_backbone(model_section["backbone"], image_size)
    aggregator = build_aggregator(model_section["aggregator"], backbone.out_channels)
    head = build_head(model_section["head"], aggregator.out_dim, int(model_section["descriptor_dim"]))
    model = VPRModel(backbone, aggregator, head, image_size)
    materialize_lazy(
        model, image_size
    )  # lazy layers (MixVPR) must know their size before counting or optimising
    return model


def _image_size(value: Any) -> tuple[int, int]:
    """[H, W] -> (H, W), both positive integers."""
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ConfigError("model.image_size", f"must be [height, width] in pixels, got {value!r}")
    return int(value[0]), int(value[1])
