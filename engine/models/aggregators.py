"""Aggregator registry: feature map B×C×h×w -> global descriptor B×D (average, max, GeM, CLS token).

NetVLAD, MixVPR, SALAD and BoQ register here from their own modules (engine/models/<name>.py).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.core.config.presets import preset_params
from engine.core.errors import ConfigError
from engine.core.registry import Registry

AGGREGATORS = Registry("aggregator", "model.aggregator.name")
_KEY = "model.aggregator"
# Keys the config resolver keeps for display; they are not factory parameters.


class AvgPool(nn.Module):
    """Global average pooling.

    Attributes:
        out_dim: Descriptor size D (= input channels).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.out_dim = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×C×h×w -> B×C."""
        return x.mean(dim=(-2, -1))


class MaxPool(nn.Module):
    """Global max pooling (as in R-MAC / MAC descriptors).

    Attributes:
        out_dim: Descriptor size D (= input channels).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.out_dim = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×C×h×w -> B×C."""
        return x.amax(dim=(-2, -1))


class ClsToken(nn.Module):
    """Passes on a ViT's CLS token, which a ViT backbone with `output: cls` delivers as a B×C×1×1 map.

    Attributes:
        out_dim: Descriptor size D (= input channels).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.out_dim = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×C×1×1 -> B×C.

        Raises:
            ConfigError: for a map larger than 1×1 (patch tokens or CNN cells, not a CLS token).
        """
        if x.shape[-2:] != (1, 1):
            raise ConfigError(
                f"{_KEY}.name",
                f"cls needs the backbone's CLS token (a B×C×1×1 map), got a "
                f"{x.shape[-2]}×{x.shape[-1]} feature map; use a DINOv2 backbone with "
                "model.backbone.output=cls, or a pooling aggregator (avg, gem, ...)",
            )
        return x.flatten(1)


class GeM(nn.Module):
    """Generalized mean pooling (Radenović et al., 2018): (mean over cells of x^p)^(1/p), per channel.

    p = 1 is average pooling and p -> inf tends to max pooling; a learnt p lets the network choose.

    Attributes:
        out_dim: Descriptor size D (= input channels).
    """

    def __init__(self, in_channels: int, p: float = 3.0, learn_p: bool = True, eps: float = 1e-6) -> None:
        super().__init__()
        self.out_dim = in_channels
        self.eps = eps
        p_tensor = torch.full((1,), float(p))
        if learn_p:
            self.p = nn.Parameter(p_tensor)
        else:
            self.register_buffer("p", p_tensor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×C×h×w -> B×C."""
        # Float32 even under AMP: x^p for p≈3 overflows fp16 and loses precision in bf16.
        x = x.float().clamp(min=self.eps)  # x^p needs x > 0 (post-ReLU maps have exact zeros)
        return x.pow(self.p).mean(dim=(-2, -1)).pow(1.0 / self.p)

    def extra_repr(self) -> str:
        return f"p={self.p.item():.3f}, eps={self.eps}"


@AGGREGATORS.register("avg")
def avg(in_channels: int) -> nn.Module:
    """Global average pooling (descriptor size = backbone channels)."""
    return AvgPool(in_channels)


@AGGREGATORS.register("max")
def max_(in_channels: int) -> nn.Module:
    """Global max pooling (descriptor size = backbone channels)."""
    return MaxPool(in_channels)


@AGGREGATORS.register("cls")
def cls(in_channels: int) -> nn.Module:
    """The ViT CLS token; needs a DINOv2 backbone with output: cls (descriptor size = channels)."""
    return ClsToken(in_channels)


@AGGREGATORS.register("gem")
def gem(in_channels: int, p: float = 3.0, learn_p: bool = True, eps: float = 1e-6) -> nn.Module:
    """Generalized mean pooling with a learnable exponent p (descriptor size = backbone channels)."""
    if p <= 0:
        raise ConfigError(f"{_KEY}.p", f"must be positive, got {p}")
    return GeM(in_channels, p=p, learn_p=learn_p, eps=eps)


def build_aggregator(section: dict[str, Any], in_channels: int) -> nn.Module:
    """Build the aggregator a resolved `model.aggregator` section describes.

    Args:
        section: `{"name": ..., **params}`.
        in_channels: Channels C of the backbone's feature map.

    Returns:
        A module with `out_dim`, mapping B×C×h×w -> B×out_dim.
    """
    params = preset_params(section)
    return AGGREGATORS.build(str(section["name"]), in_channels, **params)
