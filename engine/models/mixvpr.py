"""MixVPR (Ali-bey et al., WACV 2023): MLP mixers over the h·w cells, then channel and row projections."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedParameter

from engine.core.errors import ConfigError
from engine.models.aggregators import AGGREGATORS

_KEY = "model.aggregator"
_NAMES = ("norm_weight", "norm_bias", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias")


class FeatureMixer(LazyModuleMixin, nn.Module):
    """x + W2 ReLU(W1 LayerNorm(x)), acting on each channel's row of n = h·w cells.

    Its weights are n×n-sized, so they depend on the feature-map size. When `cells` is None they are
    torch lazy parameters sized at the first forward (materialised in place, so an optimizer made
    before that still holds them; checkpoints load into them directly).
    """

    def __init__(self, mlp_ratio: float, cells: int | None = None) -> None:
        super().__init__()
        self.mlp_ratio = mlp_ratio
        for name in _NAMES:
            setattr(self, name, UninitializedParameter())
        if cells is not None:
            self._materialize(cells)

    def initialize_parameters(self, x: torch.Tensor) -> None:  # called by LazyModuleMixin before forward 1
        if self.has_uninitialized_params():
            self._materialize(x.shape[-1])

    @torch.no_grad()
    def _materialize(self, cells: int) -> None:
        """Allocate for n cells: LayerNorm at (1, 0), linears truncated-normal (std 0.02) with zero bias."""
        hidden = max(1, int(cells * self.mlp_ratio))
        shapes = ((cells,), (cells,), (hidden, cells), (hidden,), (cells, hidden), (cells,))
        for name, shape in zip(_NAMES, shapes):
            getattr(self, name).materialize(shape)
        self.norm_weight.fill_(1.0)
        for name in ("norm_bias", "fc1_bias", "fc2_bias"):
            getattr(self, name).zero_()
        nn.init.trunc_normal_(self.fc1_weight, std=0.02)
        nn.init.trunc_normal_(self.fc2_weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×C×n -> B×C×n."""
        y = F.layer_norm(x, x.shape[-1:], self.norm_weight, self.norm_bias)
        y = F.linear(F.relu(F.linear(y, self.fc1_weight, self.fc1_bias)), self.fc2_weight, self.fc2_bias)
        return x + y


class MixVPR(nn.Module):
    """Feature mixing: `mix_depth` mixers over the cells, then C -> out_channels and n -> out_rows linears.

    The descriptor mixes global spatial context per channel (the mixers see a whole row of cells at
    once), so it is tied to one feature-map size: train and evaluate at the same image size.

    Attributes:
        out_dim: Descriptor size D = out_channels × out_rows (known before the first forward).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 512,
        mix_depth: int = 4,
        mlp_ratio: float = 1.0,
        out_rows: int = 4,
        cells: int | None = None,
    ) -> None:
        super().__init__()
        self.out_dim = out_channels * out_rows
        self.mix = nn.Sequential(*[FeatureMixer(mlp_ratio, cells) for _ in range(mix_depth)])
        self.channel_proj = nn.Linear(in_channels, out_channels)
        self.row_proj = nn.Linear(cells, out_rows) if cells else nn.LazyLinear(out_rows)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×C×h×w -> B×(out_channels·out_rows), unit L2 norm.

        Raises:
            ConfigError: for a map of another size than the one the layers were sized for.
        """
        cells = self.row_proj.in_features  # 0 while lazy
        if cells and x.shape[-2] * x.shape[-1] != cells:
            raise ConfigError(
                "model.image_size",
                f"mixvpr was sized for {cells} feature-map cells, got "
                f"{x.shape[-2]}×{x.shape[-1]}: MixVPR needs one image size for training and eval",
            )
        x = self.mix(x.flatten(2))  # B×C×n
        x = self.channel_proj(x.transpose(1, 2))  # B×n×out_channels
        x = self.row_proj(x.transpose(1, 2))  # B×out_channels×out_rows
        return F.normalize(x.flatten(1), dim=-1)


@AGGREGATORS.register("mixvpr")
def mixvpr(
    in_channels: int,
    out_channels: int = 512,
    mix_depth: int = 4,
    mlp_ratio: float = 1.0,
    out_rows: int = 4,
    feature_hw: Any = None,
) -> nn.Module:
    """MixVPR feature mixing (descriptor size = out_channels × out_rows); feature_hw null = lazy."""
    for name, value in (("out_channels", out_channels), ("mix_depth", mix_depth), ("out_rows", out_rows)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{_KEY}.{name}", f"must be a positive integer, got {value!r}")
    if mlp_ratio <= 0:
        raise ConfigError(f"{_KEY}.mlp_ratio", f"must be positive, got {mlp_ratio}")
    return MixVPR(in_channels, out_channels, mix_depth, float(mlp_ratio), out_rows, _cells(feature_hw))


def _cells(feature_hw: Any) -> int | None:
    """[h, w] -> h·w; None stays None (lazy sizing)."""
    if feature_hw is None:
        return None
    if (
        not isinstance(feature_hw, (list, tuple))
        or len(feature_hw) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in feature_hw)
    ):
        message = f"must be [h, w] (feature-map cells) or null, got {feature_hw!r}"
        raise ConfigError(f"{_KEY}.feature_hw", message)
    return feature_hw[0] * feature_hw[1]
