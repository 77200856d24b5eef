"""The convolution experts of one stage: n × Conv(k×k)-BatchNorm-ReLU, run together as one wide conv."""

from __future__ import annotations

import torch
from torch import nn

from engine.models.pce.patches import merge_patches, split_patches


class ExpertBank(nn.Module):
    """`num_experts` Conv(k×k)-BN-ReLU experts over the same patches, and their router-weighted sum.

    The experts are one conv with num_experts·C_out output channels (expert i owns channels
    i·C_out … (i+1)·C_out - 1) and one BatchNorm over them: per-channel BN makes that exactly n separate
    Conv-BN-ReLU experts, computed in one call instead of n small ones (the CPU cost is the conv itself).
    Every expert sees every patch; routing weights choose how much of each output is kept.

    Attributes:
        num_experts: n.
        out_channels: C_out of each expert (and of the mixture).
    """

    def __init__(self, in_channels: int, out_channels: int, num_experts: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.num_experts = num_experts
        self.out_channels = out_channels
        self.conv = nn.Conv2d(
            in_channels, num_experts * out_channels, kernel_size, padding=kernel_size // 2, bias=False
        )
        self.norm = nn.BatchNorm2d(num_experts * out_channels)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")

    def expert_maps(self, patches: torch.Tensor) -> torch.Tensor:
        """N×C_in×ph×pw patches -> N×n×C_out×ph×pw: every expert's map of every patch."""
        maps = torch.relu(self.norm(self.conv(patches)))
        return maps.reshape(maps.shape[0], self.num_experts, self.out_channels, *maps.shape[2:])

    def image_maps(self, patches: torch.Tensor, batch: int, grid: tuple[int, int]) -> torch.Tensor:
        """The same N×n×C_out×ph×pw maps, each expert convolving the whole (re-assembled) map: a patch's border
        pixels see their neighbours in the next patch instead of zero padding. Routing stays per patch."""
        ph, pw = patches.shape[2], patches.shape[3]
        whole = merge_patches(patches, batch, grid, (grid[0] * ph, grid[1] * pw))
        maps, _ = split_patches(torch.relu(self.norm(self.conv(whole))), grid)
        return maps.reshape(maps.shape[0], self.num_experts, self.out_channels, ph, pw)

    def forward(self, patches: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """N×C_in×ph×pw patches, N×n weights -> N×C_out×ph×pw, Σ_i w_i · E_i(patch)."""
        maps = self.expert_maps(patches)
        return torch.einsum("ne,nechw->nchw", weights.to(maps.dtype), maps)
