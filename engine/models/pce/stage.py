"""One stage of the backbone: (downsample, optional attention,) split into patches + CoordConv, route, mix the
experts, merge the patches back."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from engine.models.pce.experts import ExpertBank
from engine.models.pce.patches import COORD_CHANNELS, add_coords, merge_patches, split_patches
from engine.models.pce.routers import RouterBank, RoutingInput, mask_and_top_k

RouterFn = Callable[[RouterBank, RoutingInput], torch.Tensor]


def conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """Conv (no bias: BN supplies it) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class FusionAttention(nn.Module):
    """1×1 fusion conv, then a light attention module (squeeze-excitation channel gate × 7×7 spatial gate).

    Residual with a zero-initialised scale γ: out = x + γ·attend(fuse(x)), so switching the stage on
    mid-run starts from the identity instead of a random perturbation of a trained network.
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(4, channels // reduction)
        self.fuse = conv_bn_relu(channels, channels, 1)
        self.channel_gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )
        self.spatial_gate = nn.Sequential(nn.Conv2d(2, 1, 7, padding=3), nn.Sigmoid())
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fused = self.fuse(x)
        fused = fused * self.channel_gate(fused)
        pooled = torch.cat([fused.mean(dim=1, keepdim=True), fused.amax(dim=1, keepdim=True)], dim=1)
        return x + self.gamma * fused * self.spatial_gate(pooled)


class PCEStage(nn.Module):
    """Stage s: a stride-2 Conv-BN-ReLU (s > 0), the attention module (s > 0, used when switched on), then
    positional convolution experts over a gh×gw patch grid.

    Attributes:
        out_channels: Width of the stage's output.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_experts: int,
        kernel_size: int,
        downsample: bool,
        router_options: dict[str, object],
        context: str = "patch",
    ) -> None:
        super().__init__()
        self.context = context
        self.downsample = conv_bn_relu(in_channels, in_channels, 3, 2) if downsample else None
        self.attention = FusionAttention(in_channels) if downsample else None
        self.experts = ExpertBank(in_channels + COORD_CHANNELS, out_channels, num_experts, kernel_size)
        self.router = RouterBank(in_channels + COORD_CHANNELS, num_experts, **router_options)  # type: ignore[arg-type]
        self.out_channels = out_channels

    def enriched_patches(
        self, x: torch.Tensor, grid: tuple[int, int], attention: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the stage's input map after downsample/attention, its CoordConv-enriched patches)."""
        if self.downsample is not None:
            x = self.downsample(x)
        if attention and self.attention is not None:
            x = self.attention(x)
        patches, _ = split_patches(x, grid)
        return x, add_coords(patches, x.shape[0], grid)

    def forward(
        self,
        x: torch.Tensor,
        grid: tuple[int, int],
        router: RouterFn,
        active: torch.Tensor,
        top_k: int,
        attention: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """B×C_in×H×W -> (B×C_out×H'×W', B×(gh·gw)×n routing weights)."""
        x, patches = self.enriched_patches(x, grid, attention)
        batch = x.shape[0]
        weights = router(self.router, RoutingInput(patches, batch, grid))
        weights = mask_and_top_k(weights, active, top_k)
        if self.context == "image":
            maps = self.experts.image_maps(patches, batch, grid)
            mixed = torch.einsum("ne,nechw->nchw", weights.to(maps.dtype), maps)
        else:
            mixed = self.experts(patches, weights)
        out = merge_patches(mixed, batch, grid, (x.shape[2], x.shape[3]))
        return out, weights.reshape(batch, grid[0] * grid[1], -1)
