"""Multi-scale features from any registry backbone, for dense heads: the last map plus earlier stages.

The backbone stays the registry's module (same weights, same stage names for freeze schedules); the
earlier scales are read with forward hooks on the stage modules timm lists in `feature_info` (the
official description of each model's feature taps), or on each layer of the plain CNN. Per stride
only the deepest tap is kept, strides below 4 are skipped (costly, little gain), and the backbone's
own output is always the last scale. ViTs (DINOv2) give a single scale: their blocks all run at the
patch stride, so only the patch-token map remains.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

MIN_STRIDE = 4


@dataclass(frozen=True)
class Tap:
    """A hooked module (by its name inside the backbone), and what it outputs."""

    module: str
    channels: int
    stride: int


def find_taps(backbone: nn.Module) -> list[Tap]:
    """Intermediate taps of a backbone, shallow to deep, with strides in [MIN_STRIDE, backbone stride)."""
    final_stride = int(backbone.stride)
    candidates: list[Tap] = []
    body = getattr(backbone, "body", None)
    info = getattr(body, "feature_info", None)
    if info is not None:  # a timm features_only model: its feature_info lists every stage
        names = dict(backbone.named_modules())
        for entry in info.info:
            for name in (f"body.{entry['module']}", f"body.{entry['module'].replace('.', '_')}"):
                if name in names:
                    candidates.append(Tap(name, int(entry["num_chs"]), int(entry["reduction"])))
                    break
    elif isinstance(getattr(backbone, "layers", None), nn.Sequential):  # the plain CNN: conv layers in order
        stride = 1
        for index, layer in enumerate(backbone.layers):
            conv = next(m for m in layer.modules() if isinstance(m, nn.Conv2d))
            stride *= int(conv.stride[0])
            candidates.append(Tap(f"layers.{index}", int(conv.out_channels), stride))
    deepest: dict[int, Tap] = {}
    for tap in candidates:
        if MIN_STRIDE <= tap.stride < final_stride:
            deepest[tap.stride] = tap  # a later tap at the same stride is deeper
    return [deepest[s] for s in sorted(deepest)]


def multi_scale(backbone: nn.Module, taps: list[Tap], images: torch.Tensor) -> list[torch.Tensor]:
    """B×3×H×W -> the taps' feature maps then the backbone's output, shallow to deep (all B×C×h×w).

    Hooks live for this call only, so copies of the model (EMA, DDP) never carry stale ones.
    """
    captured: dict[str, torch.Tensor] = {}
    handles = []
    for tap in taps:

        def keep(_module: nn.Module, _inputs: object, output: torch.Tensor, name: str = tap.module) -> None:
            captured[name] = output

        handles.append(backbone.get_submodule(tap.module).register_forward_hook(keep))
    try:
        last = backbone(images)
    finally:
        for handle in handles:
            handle.remove()
    maps = [captured[t.module] for t in taps]
    if getattr(backbone, "nhwc", False):  # Swin stages give B×h×w×C (the backbone permutes only its output)
        maps = [m.permute(0, 3, 1, 2) for m in maps]
    return [*maps, last]
