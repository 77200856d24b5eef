"""A plain conv-BN-ReLU CNN: the CPU demo backbone that learns VPR on 72×48 images in minutes."""

from __future__ import annotations

import torch
from torch import nn

from engine.core.errors import ConfigError, UserError
from engine.models.backbones import BACKBONES
from engine.models.weights import LoadReport, load_weights_file

_KEY = "model.backbone"


def _conv_bn_relu(c_in: int, c_out: int, stride: int, dilation: int = 1) -> nn.Sequential:
    """3×3 conv (no bias: BN supplies it; padding keeps the size at any dilation) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class PlainCNN(nn.Module):
    """`depth` 3×3 conv-BN-ReLU layers in stages of two, each opening with a stride-2, width-doubling conv.

    With the defaults (depth 8, width 32) the widths are 32, 64, 128, 256 and the model has 1.18M
    parameters. Stride-2 convs stop once `output_stride` is reached: later stages still double the width,
    and their convs are dilated by the stride they skipped (DeepLab's atrous backbone: each layer sees
    as far as in the undilated stack, on a denser map). We default to output stride 16: a 72-wide, 48-high demo image gives a 3×5 (h×w) map, enough
    for global pooling, and the last, widest stage stays cheap (~46M MACs per image forward; about
    330-380 img/s training on 2 CPU cores at batch 64). Output stride 8 gives 6×9 cells for ~80M MACs.

    Attributes:
        out_channels: Width of the last stage.
        stride: Product of the strides (input pixels per output cell).
    """

    def __init__(
        self, depth: int = 8, width: int = 32, output_stride: int = 16, channels_last: bool = False
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, c_out, stride, dilation = 3, width, 1, 1
        for i in range(depth):
            opens_stage = i % 2 == 0
            if opens_stage and i > 0:
                c_out *= 2
            step = 2 if opens_stage and stride < output_stride else 1
            if opens_stage and step == 1:
                dilation *= 2
            layers.append(_conv_bn_relu(c_in, c_out, step, dilation))
            c_in, stride = c_out, stride * step
        self.layers = nn.Sequential(*layers)
        self.out_channels = c_out
        self.stride = stride
        self.channels_last = channels_last
        self.load_report: LoadReport | None = None
        self._init_weights()
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def _init_weights(self) -> None:
        """Kaiming-normal convs (fan_out, as torchvision's ResNet): the plain stack trains from scratch."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×3×H×W -> B×C×ceil(H/stride)×ceil(W/stride)."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.layers(x)


@BACKBONES.register("plain_cnn")
def plain_cnn(
    depth: int = 8,
    width: int = 32,
    output_stride: int = 16,
    pretrained: bool | str = False,
    channels_last: bool = False,
) -> nn.Module:
    """Plain conv-BN-ReLU CNN for the CPU demo (1.2M params, stride 16 with the defaults)."""
    _check_positive("depth", depth)
    _check_positive("width", width)
    if output_stride not in (1, 2, 4, 8, 16, 32):
        raise ConfigError(f"{_KEY}.output_stride", f"must be a power of two up to 32, got {output_stride}")
    if pretrained is True:
        raise UserError(
            f"plain_cnn has no downloadable weights; set {_KEY}.pretrained to a local file or false"
        )
    model = PlainCNN(depth, width, output_stride, channels_last)
    if isinstance(pretrained, str):
        model.load_report = load_weights_file(model, pretrained)
    return model


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"{_KEY}.{name}", f"must be a positive integer, got {value!r}")
