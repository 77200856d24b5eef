"""DeepLab decoders on the deepest feature map: ASPP of DeepLabv2 (branch logits summed) and of DeepLabv3.

Both read only the last map, so they pair with a dilated backbone (`model.backbone.output_stride` 8 or
16): the atrous rates are in cells of that map. Registered as `aspp` and `deeplabv3` in seg_heads.py.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.segmentation.deeplabv3 import ASPP


class ASPPv2Head(nn.Module):
    """DeepLabv2's ASPP (Chen et al., 2017): parallel 3×3 atrous convs straight to class logits, summed.

    Each branch sees the same map at its own rate (6/12/18/24 in the paper, at output stride 8). Weights
    start at N(0, 0.01) and biases at 0, as in the paper's Caffe model and its PyTorch ports.

    Attributes:
        branches: One conv per rate, in_channels -> num_classes.
        out_stride: Input pixels per logit cell (the backbone's output stride).
    """

    def __init__(self, in_channels: int, stride: int, num_classes: int, rates: list[int]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, 3, padding=rate, dilation=rate) for rate in rates
        )
        for conv in self.branches:
            nn.init.normal_(conv.weight, 0.0, 0.01)
            nn.init.zeros_(conv.bias)
        self.out_stride = stride

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        """[..., B×C×h×w] -> B×K×h×w: the sum of the branches' logits on the last map."""
        last = maps[-1]
        logits = self.branches[0](last)
        for branch in self.branches[1:]:
            logits = logits + branch(last)
        return logits


class DeepLabV3Head(nn.Module):
    """DeepLabv3's ASPP (Chen et al., 2017b) then a 1×1 classifier.

    torchvision's ASPP: a 1×1 branch, one 3×3 atrous branch per rate and image pooling, each conv-BN-ReLU
    to `channels`, concatenated and projected by a 1×1 conv-BN-ReLU with dropout. Rates 6/12/18 at output
    stride 16, doubled (12/24/36) at 8. Its pooling branch normalises a 1×1 map, so training needs
    batches of two images or more.

    Attributes:
        aspp: The concatenating ASPP, in_channels -> channels.
        classifier: channels -> num_classes.
        out_stride: Input pixels per logit cell (the backbone's output stride).
    """

    def __init__(
        self, in_channels: int, stride: int, num_classes: int, rates: list[int], channels: int, dropout: float
    ) -> None:
        super().__init__()
        self.aspp = ASPP(in_channels, rates, channels)
        self.aspp.project[-1].p = dropout  # torchvision fixes 0.5; the preset chooses
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        self.out_stride = stride

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        """[..., B×C×h×w] -> B×K×h×w logits of the last map."""
        return self.classifier(self.aspp(maps[-1]))
