"""Segmentation head registry: multi-scale feature maps -> class logits at the finest scale they use.

Heads are built from the backbone's scales (`in_channels`, `strides`, shallow to deep; a ViT gives
one) and the class count; the model upsamples their logits to the input size. Presets live in
presets/head/ next to the VPR heads (`linear` shares its preset: neither takes parameters).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.config.presets import preset_params
from engine.core.errors import ConfigError
from engine.core.registry import Registry
from engine.models.deeplab_heads import ASPPv2Head, DeepLabV3Head

SEG_HEADS = Registry("segmentation head", "model.head.name")
_KEY = "model.head"
# Keys the config resolver keeps for display; they are not factory parameters.


class LinearSegHead(nn.Module):
    """A 1×1 convolution on the deepest map: the linear probe of dense features (logits at the backbone stride).

    Attributes:
        out_stride: Input pixels per logit cell.
    """

    def __init__(self, in_channels: int, stride: int, num_classes: int) -> None:
        super().__init__()
        self.classifier = nn.Conv2d(in_channels, num_classes, 1)
        self.out_stride = stride

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        """[B×C_i×h_i×w_i] -> B×K×h×w of the last map."""
        return self.classifier(maps[-1])


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class FPNHead(nn.Module):
    """A light FPN decoder (Lin et al., 2017; the semantic-FPN fusion of Kirillov et al., 2019).

    Each scale gets a 1×1 lateral conv to `channels`; coarser levels are upsampled and added top-down;
    each level is smoothed by a 3×3 conv-BN-ReLU, upsampled to the finest level and summed; dropout and
    a 1×1 conv give the logits. With one scale (DINOv2) it is lateral -> 3×3 conv -> classifier.

    Attributes:
        out_stride: Input pixels per logit cell (the finest scale's stride).
    """

    def __init__(
        self, in_channels: list[int], strides: list[int], num_classes: int, channels: int, dropout: float
    ) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.smooth = nn.ModuleList(_conv_bn_relu(channels, channels) for _ in in_channels)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        self.out_stride = strides[0]

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        """[B×C_i×h_i×w_i], shallow to deep -> B×K×h_0×w_0."""
        levels = [lateral(m) for lateral, m in zip(self.lateral, maps)]
        for i in range(len(levels) - 2, -1, -1):  # top-down: each level adds the coarser one above it
            levels[i] = levels[i] + _resize(levels[i + 1], levels[i].shape[-2:])
        size = levels[0].shape[-2:]
        fused = sum(_resize(smooth(level), size) for smooth, level in zip(self.smooth, levels))
        return self.classifier(self.dropout(fused))


def _resize(x: torch.Tensor, size: torch.Size) -> torch.Tensor:
    return x if x.shape[-2:] == size else F.interpolate(x, size=size, mode="bilinear", align_corners=False)


@SEG_HEADS.register("linear")
def linear(in_channels: list[int], strides: list[int], num_classes: int) -> nn.Module:
    """1×1 conv on the deepest feature map (a linear probe), logits upsampled to the input size."""
    return LinearSegHead(in_channels[-1], strides[-1], num_classes)


@SEG_HEADS.register("fpn")
def fpn(
    in_channels: list[int], strides: list[int], num_classes: int, channels: int = 128, dropout: float = 0.1
) -> nn.Module:
    """Light FPN decoder fusing every backbone scale at the finest one (one scale for DINOv2)."""
    if channels < 1:
        raise ConfigError(f"{_KEY}.channels", f"must be a positive integer, got {channels}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"{_KEY}.dropout", f"must be in [0, 1), got {dropout}")
    return FPNHead(in_channels, strides, num_classes, channels, dropout)


@SEG_HEADS.register("aspp")
def aspp(
    in_channels: list[int],
    strides: list[int],
    num_classes: int,
    rates: list[int] = [6, 12, 18, 24],  # noqa: B006 (never mutated; the preset lists the same values)
) -> nn.Module:
    """DeepLabv2 ASPP: parallel 3×3 atrous convs to logits on the deepest map, summed (pair with output_stride 8)."""
    _check_rates(rates)
    return ASPPv2Head(in_channels[-1], strides[-1], num_classes, list(rates))


@SEG_HEADS.register("deeplabv3")
def deeplabv3(
    in_channels: list[int],
    strides: list[int],
    num_classes: int,
    rates: list[int] = [6, 12, 18],  # noqa: B006 (never mutated; the preset lists the same values)
    channels: int = 256,
    dropout: float = 0.1,
) -> nn.Module:
    """DeepLabv3 ASPP (1×1, atrous 3×3 per rate, image pooling; concatenated, projected) and a 1×1 classifier."""
    _check_rates(rates)
    if channels < 1:
        raise ConfigError(f"{_KEY}.channels", f"must be a positive integer, got {channels}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"{_KEY}.dropout", f"must be in [0, 1), got {dropout}")
    return DeepLabV3Head(in_channels[-1], strides[-1], num_classes, list(rates), channels, dropout)


def _check_rates(rates: list[int]) -> None:
    if (
        not isinstance(rates, list)
        or not rates
        or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in rates)
    ):
        raise ConfigError(
            f"{_KEY}.rates",
            f"must be a list of positive integer dilation rates, e.g. [6, 12, 18], got {rates!r}",
        )


def build_seg_head(
    section: dict[str, Any], in_channels: list[int], strides: list[int], num_classes: int
) -> nn.Module:
    """Build the head a resolved `model.head` section describes, for these scales and classes.

    Returns:
        A module mapping the list of feature maps to B×num_classes×h×w logits, with `out_stride`.
    """
    params = preset_params(section)
    return SEG_HEADS.build(str(section["name"]), in_channels, strides, num_classes, **params)
