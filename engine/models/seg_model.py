"""The segmentation model (backbone -> multi-scale maps -> decoder head -> logits at the input size)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.backbones import build_backbone
from engine.models.feature_taps import Tap, find_taps, multi_scale
from engine.models.seg_heads import build_seg_head

GROUPS = ("backbone", "head")


class SegmentationModel(nn.Module):
    """Image -> per-pixel class logits.

    Attributes:
        backbone: The registry backbone (B×3×H×W -> B×C×h×w), tapped at earlier stages for the head.
        head: Feature maps -> B×K×h×w logits at its `out_stride`.
        taps: The earlier stages the head reads (see engine.models.feature_taps).
        num_classes: K.
        image_size: (height, width) the model is trained at.
    """

    def __init__(
        self,
        backbone: nn.Module,
        head: nn.Module,
        taps: list[Tap],
        num_classes: int,
        image_size: tuple[int, int],
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.taps = taps
        self.num_classes = num_classes
        self.image_size = image_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """B×3×H×W -> B×K×H×W logits (bilinear upsampling of the head's output)."""
        logits = self.head(multi_scale(self.backbone, self.taps, images))
        return F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)

    def module_groups(self) -> dict[str, nn.Module]:
        """The groups the freeze schedule and the optimizer's param groups address, by name."""
        return {"backbone": self.backbone, "head": self.head}


def build_segmentation_model(model_section: dict[str, Any], num_classes: int) -> SegmentationModel:
    """Build a `SegmentationModel` from the resolved `model` section (its aggregator is not used).

    Raises:
        ConfigError: for a bad backbone or head value (naming its key).
    """
    image_size = (int(model_section["image_size"][0]), int(model_section["image_size"][1]))
    backbone = build_backbone(model_section["backbone"], image_size)
    taps = find_taps(backbone)
    channels = [t.channels for t in taps] + [int(backbone.out_channels)]
    strides = [t.stride for t in taps] + [int(backbone.stride)]
    head = build_seg_head(model_section["head"], channels, strides, num_classes)
    return SegmentationModel(backbone, head, taps, num_classes, image_size)
