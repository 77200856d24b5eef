"""Patches of a feature map and their CoordConv channels: split B×C×H×W into a grid of patches, merge back."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: Channels CoordConv adds: pixel-in-patch y, x and patch-in-image y, x, each in [-1, 1].
COORD_CHANNELS = 4


def patch_grid(height: int, width: int, patch_size: tuple[int, int]) -> tuple[int, int]:
    """(rows, columns) of patches covering an input of height×width (a partial last patch counts)."""
    return math.ceil(height / patch_size[0]), math.ceil(width / patch_size[1])


def split_patches(x: torch.Tensor, grid: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
    """B×C×H×W -> (B·gh·gw)×C×ph×pw patches in row-major order per image, and the patch size (ph, pw).

    The map is zero-padded at the bottom/right up to gh·ph × gw·pw, so any size splits into the same grid;
    `merge_patches` crops the padding away.
    """
    batch, channels, height, width = x.shape
    rows, cols = grid
    ph, pw = math.ceil(height / rows), math.ceil(width / cols)
    if rows * ph != height or cols * pw != width:
        x = F.pad(x, (0, cols * pw - width, 0, rows * ph - height))
    patches = x.reshape(batch, channels, rows, ph, cols, pw).permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(batch * rows * cols, channels, ph, pw), (ph, pw)


def merge_patches(
    patches: torch.Tensor, batch: int, grid: tuple[int, int], size: tuple[int, int]
) -> torch.Tensor:
    """(B·gh·gw)×C×ph×pw -> B×C×H×W with (H, W) = `size`: the inverse of `split_patches`."""
    rows, cols = grid
    _, channels, ph, pw = patches.shape
    x = patches.reshape(batch, rows, cols, channels, ph, pw).permute(0, 3, 1, 4, 2, 5)
    x = x.reshape(batch, channels, rows * ph, cols * pw)
    return x[:, :, : size[0], : size[1]]


def _ramp(count: int, like: torch.Tensor) -> torch.Tensor:
    """`count` evenly spaced values from -1 to 1 (a single position sits at 0)."""
    if count == 1:
        return torch.zeros(1, dtype=like.dtype, device=like.device)
    return torch.linspace(-1.0, 1.0, count, dtype=like.dtype, device=like.device)


def coord_channels(grid: tuple[int, int], patch: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
    """(gh·gw)×4×ph×pw: pixel-in-patch y, x and patch-in-image y, x of every pixel of every patch."""
    rows, cols = grid
    ph, pw = patch
    pixel_y = _ramp(ph, like).view(1, ph, 1).expand(rows * cols, ph, pw)
    pixel_x = _ramp(pw, like).view(1, 1, pw).expand(rows * cols, ph, pw)
    patch_y = _ramp(rows, like).repeat_interleave(cols).view(-1, 1, 1).expand(-1, ph, pw)
    patch_x = _ramp(cols, like).repeat(rows).view(-1, 1, 1).expand(-1, ph, pw)
    return torch.stack([pixel_y, pixel_x, patch_y, patch_x], dim=1)


def add_coords(patches: torch.Tensor, batch: int, grid: tuple[int, int]) -> torch.Tensor:
    """(B·gh·gw)×C×ph×pw patches -> (B·gh·gw)×(C+4)×ph×pw with the CoordConv channels appended."""
    coords = coord_channels(grid, (patches.shape[2], patches.shape[3]), patches)
    return torch.cat([patches, coords.repeat(batch, 1, 1, 1)], dim=1)
