"""Segmentation inference for evaluation: whole image or sliding windows, logits brought to each label's size."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Forward = Callable[[torch.Tensor], torch.Tensor]  # B×3×h×w normalised -> B×C×h×w logits at input size


def window_starts(length: int, window: int) -> list[int]:
    """Window offsets along one side at 2/3 of the window (mmseg's slide stride), the last flush with the edge."""
    if length <= window:
        return [0]
    stride = max(1, window * 2 // 3)
    starts = list(range(0, length - window + 1, stride))
    return starts if starts[-1] == length - window else [*starts, length - window]


def slide_logits(forward: Forward, images: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """B×C×H×W logits from windows of `window` over B×3×H×W images, averaged where windows overlap."""
    height, width = images.shape[-2:]
    win_h, win_w = min(window[0], height), min(window[1], width)
    total: torch.Tensor | None = None
    counts = torch.zeros(1, 1, height, width, device=images.device)
    for top in window_starts(height, win_h):
        for left in window_starts(width, win_w):
            logits = forward(images[:, :, top : top + win_h, left : left + win_w])  # B×C×win_h×win_w
            if total is None:
                total = images.new_zeros(images.shape[0], logits.shape[1], height, width, dtype=logits.dtype)
            total[:, :, top : top + win_h, left : left + win_w] += logits
            counts[:, :, top : top + win_h, left : left + win_w] += 1
    assert total is not None
    return total / counts


def predictions_at(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Class indices (B×H×W) at a label's own `size`: logits resized bilinearly first, then argmax."""
    if tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return logits.argmax(1)
