"""BoQ (Ali-bey et al., CVPR 2024): a bag of learnable queries cross-attending to the local features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.core.errors import ConfigError
from engine.models.aggregators import AGGREGATORS

_KEY = "model.aggregator"


class BoQBlock(nn.Module):
    """A transformer encoder layer over the features, then the block's queries cross-attend to them.

    The queries' self-attention adds context between queries; the paper keeps it for training
    stability (its output does not depend on the image, so it could be cached at eval time).
    """

    def __init__(self, dim: int, num_queries: int, heads: int) -> None:
        super().__init__()
        self.encoder = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=4 * dim, dropout=0.0, batch_first=True
        )
        self.queries = nn.Parameter(torch.randn(1, num_queries, dim))
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_q = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_out = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """B×n×d features -> (refined B×n×d features for the next block, B×Q×d query outputs)."""
        x = self.encoder(x)
        q = self.queries.expand(x.shape[0], -1, -1)  # B×Q×d
        q = self.norm_q(q + self.self_attn(q, q, q, need_weights=False)[0])
        out = self.cross_attn(q, x, x, need_weights=False)[0]  # B×Q×d
        return x, self.norm_out(out)


class BoQ(nn.Module):
    """3×3 conv to `proj_channels`, `num_layers` BoQ blocks in cascade, their query outputs concatenated
    (L·Q rows) and linearly reduced to `row_dim` rows.

    Attention uses one head per 64 channels as in the paper (a single head when proj_channels is not
    a multiple of 64).

    Attributes:
        out_dim: Descriptor size D = proj_channels × row_dim.
    """

    def __init__(
        self,
        in_channels: int,
        num_queries: int = 32,
        num_layers: int = 2,
        row_dim: int = 32,
        proj_channels: int = 512,
    ) -> None:
        super().__init__()
        heads = proj_channels // 64 if proj_channels % 64 == 0 else 1
        self.out_dim = proj_channels * row_dim
        self.proj = nn.Conv2d(in_channels, proj_channels, kernel_size=3, padding=1)
        self.norm_input = nn.LayerNorm(proj_channels)
        self.blocks = nn.ModuleList(BoQBlock(proj_channels, num_queries, heads) for _ in range(num_layers))
        self.fc = nn.Linear(num_layers * num_queries, row_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×C×h×w -> B×(proj_channels·row_dim), unit L2 norm."""
        x = self.norm_input(self.proj(x).flatten(2).transpose(1, 2))  # B×n×d
        outs = []
        for block in self.blocks:
            x, out = block(x)
            outs.append(out)
        rows = torch.cat(outs, dim=1)  # B×(L·Q)×d
        rows = self.fc(rows.transpose(1, 2))  # B×d×row_dim
        return F.normalize(rows.flatten(1), dim=-1)


@AGGREGATORS.register("boq")
def boq(
    in_channels: int, num_queries: int = 32, num_layers: int = 2, row_dim: int = 32, proj_channels: int = 512
) -> nn.Module:
    """Bag-of-Queries: learnable queries with cross-attention (descriptor size = proj_channels × row_dim)."""
    for name, value in (
        ("num_queries", num_queries),
        ("num_layers", num_layers),
        ("row_dim", row_dim),
        ("proj_channels", proj_channels),
    ):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{_KEY}.{name}", f"must be a positive integer, got {value!r}")
    return BoQ(in_channels, num_queries, num_layers, row_dim, proj_channels)
