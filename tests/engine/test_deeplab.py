"""DeepLab heads (aspp, deeplabv3) on dilated backbones (model.backbone.output_stride), issue 14."""

from __future__ import annotations

import math

import pytest
import torch

from engine.core.errors import ConfigError
from engine.models import build_backbone, build_segmentation_model
from engine.models.deeplab_heads import ASPPv2Head, DeepLabV3Head
from engine.optim import build_optimizer

SIZE = (32, 48)
CLASSES = 5
BACKBONES = {
    "resnet18": {"name": "resnet18", "pretrained": False},
    "plain_cnn": {"name": "plain_cnn", "depth": 8, "width": 8},
}
HEADS = {
    "aspp": {"name": "aspp", "rates": [1, 2, 3, 4]},
    "deeplabv3": {"name": "deeplabv3", "rates": [1, 2, 3], "channels": 16, "dropout": 0.1},
}


def _model(backbone: str, output_stride: int, head: str) -> torch.nn.Module:
    section = {"backbone": BACKBONES[backbone] | {"output_stride": output_stride}, "head": HEADS[head]}
    return build_segmentation_model(section | {"image_size": list(SIZE)}, CLASSES)


@pytest.mark.parametrize("output_stride", [8, 16])
@pytest.mark.parametrize("backbone", list(BACKBONES))
@pytest.mark.parametrize("head", list(HEADS))
def test_heads_give_logits_at_the_output_stride_and_the_model_at_input_size(
    backbone: str, output_stride: int, head: str
) -> None:
    model = _model(backbone, output_stride, head).eval()
    images = torch.randn(2, 3, *SIZE)
    cells = [math.ceil(side / output_stride) for side in SIZE]
    features = model.backbone(images)
    assert model.backbone.stride == model.head.out_stride == output_stride
    assert features.shape[-2:] == tuple(cells)
    assert model.head([features]).shape == (2, CLASSES, *cells)
    assert model(images).shape == (2, CLASSES, *SIZE)


def test_aspp_sums_its_branches_and_deeplabv3_concatenates_them() -> None:
    features = torch.randn(2, 12, 6, 8)
    v2 = ASPPv2Head(12, 8, CLASSES, [1, 2, 3, 4])
    summed = sum(branch(features) for branch in v2.branches)
    assert [b.dilation[0] for b in v2.branches] == [1, 2, 3, 4]
    assert torch.allclose(v2([features]), summed, atol=1e-6)
    v3 = DeepLabV3Head(12, 16, CLASSES, [2, 4, 6], channels=16, dropout=0.2).eval()
    branches = [branch(features) for branch in v3.aspp.convs]
    assert len(branches) == 1 + 3 + 1  # 1×1, one per rate, image pooling
    assert all(b.shape == (2, 16, 6, 8) for b in branches)
    assert v3.aspp.project[0].in_channels == 5 * 16 and v3.aspp.project[-1].p == 0.2
    expected = v3.classifier(v3.aspp.project(torch.cat(branches, dim=1)))
    assert torch.allclose(v3([features]), expected, atol=1e-6)


@pytest.mark.parametrize("head", list(HEADS))
def test_head_is_its_own_group_with_ten_times_the_backbone_lr(head: str) -> None:
    model = _model("plain_cnn", 8, head)
    groups = model.module_groups()
    assert list(groups) == ["backbone", "head"] and groups["head"] is model.head
    optimizer = build_optimizer(
        {"name": "sgd", "lr": 2.5e-3, "momentum": 0.9, "weight_decay": 5e-4, "backbone_lr_mult": 0.1}, groups
    )
    lrs = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert lrs == {"backbone": pytest.approx(2.5e-4), "head": pytest.approx(2.5e-3)}
    head_params = {id(p) for p in model.head.parameters()}
    assert {id(p) for g in optimizer.param_groups if g["name"] == "head" for p in g["params"]} == head_params


def test_plain_cnn_dilates_the_stages_past_its_output_stride() -> None:
    dense = build_backbone(BACKBONES["plain_cnn"] | {"output_stride": 8})
    assert [layer[0].dilation[0] for layer in dense.layers] == [1, 1, 1, 1, 1, 1, 2, 2]
    assert [layer[0].stride[0] for layer in dense.layers] == [2, 1, 2, 1, 2, 1, 1, 1]
    coarse = build_backbone(BACKBONES["plain_cnn"] | {"output_stride": 16})
    assert sum(p.numel() for p in dense.parameters()) == sum(p.numel() for p in coarse.parameters())


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"name": "resnet18", "output_stride": 4}, "must be 32 .unchanged., 16 or 8"),
        (
            {"name": "vit_tiny_patch16_224", "output_stride": 8},
            "vit_tiny_patch16_224 cannot be dilated .* allowed: 32 for it",
        ),
        ({"name": "swin_tiny", "output_stride": 16}, "swin_tiny_patch4_window7_224 cannot be dilated"),
    ],
)
def test_output_stride_errors_name_the_key_and_the_allowed_values(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=f"model.backbone.output_stride: {message}"):
        build_backbone(section | {"pretrained": False}, (224, 224))


@pytest.mark.parametrize("rates", [[], [0, 6], "6,12"])
def test_bad_rates_are_config_errors(rates: object) -> None:
    with pytest.raises(ConfigError, match="model.head.rates"):
        build_segmentation_model(
            {
                "backbone": BACKBONES["plain_cnn"],
                "head": {"name": "aspp", "rates": rates},
                "image_size": [32, 48],
            },
            CLASSES,
        )
