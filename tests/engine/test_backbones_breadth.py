"""Every backbone preset builds and gives its feature map; Swin and DINOv2 run; local weights load."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import timm
import torch
import yaml
from timm.layers import resample_abs_pos_embed

from engine.core.errors import UserError
from engine.models import BACKBONES, build_backbone

# Built and run for real at 64-112 px here or in test_models.py; the rest are checked on the meta device.
PRESETS = Path(__file__).resolve().parents[2] / "presets" / "backbone"
RUN_FOR_REAL = {
    "plain_cnn",
    "resnet18",
    "mobilenetv3_small",
    "efficientnet_b0",
    "swin_tiny",
    "dinov2_vits14",
    "dinov2_vits14_reg",
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """One intra-op thread: the CPU is shared, and building models is memory-bound init work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _section(name: str, **overrides: object) -> dict:
    """A backbone preset as the config system hands it over (without `description`)."""
    data = yaml.safe_load((PRESETS / f"{name}.yaml").read_text())
    data.pop("description")
    return data | overrides


@pytest.mark.parametrize("name", sorted(set(BACKBONES.names()) - RUN_FOR_REAL))
def test_backbone_preset_builds_and_reports_its_map(name: str) -> None:
    """On the meta device: the real constructor and forward, shapes only (ViT-L takes 16 s to init on CPU)."""
    with torch.device("meta"):
        backbone = build_backbone(_section(name), (224, 224))
        out = backbone.eval()(torch.empty(2, 3, 224, 224))
    side = math.ceil(224 / backbone.stride)
    assert out.shape == (2, backbone.out_channels, side, side)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet101", "dinov2_vitl14"])
def test_huge_backbones_construct_on_cpu(name: str) -> None:
    start = time.perf_counter()
    backbone = build_backbone(_section(name), (224, 224))
    print(f"{name}: built in {time.perf_counter() - start:.1f} s")
    assert sum(p.numel() for p in backbone.parameters()) > 40e6


def test_swin_features_come_channels_first() -> None:
    backbone = build_backbone(_section("swin_tiny"), (64, 96))
    x = torch.randn(2, 3, 64, 96)
    out = backbone(x)
    out.mean().backward()
    assert (backbone.out_channels, backbone.stride) == (768, 32)
    assert out.shape == (2, 768, 2, 3)
    assert all(p.grad is not None for p in backbone.body.parameters() if p.requires_grad)
    with torch.no_grad():  # eval: Swin's stochastic depth would make two passes differ
        backbone.eval()
        nhwc = backbone.body(x)[-1]  # timm gives B×h×w×C
        torch.testing.assert_close(backbone(x), nhwc.permute(0, 3, 1, 2))


@pytest.fixture(scope="module")
def vits() -> torch.nn.Module:
    """DINOv2 ViT-S/14 built for 322 px, with its blocks cut to 2 (shapes do not depend on depth)."""
    backbone = build_backbone(_section("dinov2_vits14"), (322, 322))
    backbone.vit.blocks = backbone.vit.blocks[:2]
    return backbone


@torch.no_grad()
def test_vit_patch_tokens_form_the_grid(vits: torch.nn.Module) -> None:
    assert (vits.out_channels, vits.stride, vits.num_prefix_tokens) == (384, 14, 1)
    assert vits(torch.randn(1, 3, 322, 322)).shape == (1, 384, 23, 23)
    assert vits(torch.randn(1, 3, 224, 224)).shape == (1, 384, 16, 16)  # another resolution, e.g. for eval


@pytest.fixture(scope="module")
def vits_reg() -> torch.nn.Module:
    """DINOv2 ViT-S/14 with 4 registers, built for 112 px (an 8×8 grid)."""
    return build_backbone(_section("dinov2_vits14_reg"), (112, 112))


def test_vit_with_registers_drops_five_prefix_tokens(vits_reg: torch.nn.Module) -> None:
    backbone = vits_reg
    x = torch.randn(2, 3, 112, 112)
    out = backbone(x)
    out.mean().backward()
    assert backbone.num_prefix_tokens == 5 and out.shape == (2, 384, 8, 8)
    with torch.no_grad():
        tokens = backbone.vit.forward_features(x)  # B×(5 + 64)×C
        torch.testing.assert_close(out[:, :, 2, 3], tokens[:, 5 + 2 * 8 + 3])  # row-major grid
        backbone.output = "cls"
        torch.testing.assert_close(backbone(x), tokens[:, 0, :, None, None])
        backbone.output = "tokens"


def test_places365_style_file_on_resnet18(tmp_path: Path) -> None:
    """The Places365 release: {'arch', 'epoch', 'state_dict': {'module.…'}} with a 365-way classifier."""
    source = timm.create_model("resnet18", num_classes=365).state_dict()
    path = tmp_path / "resnet18_places365.pth.tar"
    torch.save(
        {
            "epoch": 90,
            "arch": "resnet18",
            "best_prec1": 54.7,
            "state_dict": {f"module.{k}": v for k, v in source.items()},
        },
        path,
    )
    backbone = build_backbone({"name": "resnet18", "pretrained": str(path)})
    report = backbone.load_report
    assert report.clean and report.prefix == "module."
    assert report.ignored == ["fc.weight", "fc.bias"]  # the 365 classes, dropped with the classifier
    assert "ignored classifier 2: fc.weight, fc.bias" in report.summary()
    torch.testing.assert_close(
        backbone.body.layer4[1].conv2.weight, source["layer4.1.conv2.weight"], rtol=0, atol=0
    )


def test_sequential_style_file_on_resnet18(tmp_path: Path) -> None:
    """CosPlace / cirtorch (GLDv2) checkpoints: nn.Sequential(*resnet.children()[:-2]) then an aggregation."""
    source = timm.create_model("resnet18").state_dict()
    children = ["conv1", "bn1", "act1", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    state = {}
    for name, tensor in source.items():
        head, rest = name.split(".", 1)
        if head in children:
            state[f"backbone.{children.index(head)}.{rest}"] = tensor
    state |= {"aggregation.0.p": torch.ones(1), "aggregation.3.weight": torch.zeros(512, 512)}
    path = tmp_path / "cosplace.pth"
    torch.save(state, path)
    report = build_backbone({"name": "resnet18", "pretrained": str(path)}).load_report
    assert report.sequential and report.prefix == "backbone."
    assert report.missing == [] and report.mismatched == []  # fc is the dropped classifier
    assert report.unexpected == ["aggregation.0.p", "aggregation.3.weight"]
    assert report.loaded == len(source) - 2


def test_dinov2_timm_names_from_518_px(vits: torch.nn.Module, tmp_path: Path) -> None:
    """A DINOv2 training checkpoint: timm's names under 'teacher' / 'backbone.', a 37×37 (518 px) grid."""
    state = {k: v.clone() for k, v in vits.vit.state_dict().items() if not k.startswith("blocks.")}
    state["pos_embed"] = torch.randn(1, 1 + 37 * 37, 384)
    state = {f"backbone.{k}": v for k, v in state.items()}
    state["dino_head.last_layer.weight"] = torch.zeros(8, 384)
    path = tmp_path / "teacher_checkpoint.pth"
    torch.save({"teacher": state}, path)
    backbone = build_backbone({"name": "dinov2_vits14", "pretrained": str(path)}, (224, 224))
    report = backbone.load_report
    assert report.prefix == "backbone." and report.unexpected == ["dino_head.last_layer.weight"]
    assert report.missing and all(n.startswith("blocks.") for n in report.missing)  # this file has no blocks
    expected = resample_abs_pos_embed(state["backbone.pos_embed"], (16, 16), (37, 37), num_prefix_tokens=1)
    torch.testing.assert_close(backbone.vit.pos_embed.data, expected)
    torch.testing.assert_close(backbone.vit.cls_token.data, state["backbone.cls_token"])


def test_dinov2_original_names_with_registers(vits_reg: torch.nn.Module, tmp_path: Path) -> None:
    """facebookresearch/dinov2 names: register_tokens, mask_token, CLS slot inside pos_embed."""
    state = {
        k: torch.randn_like(v)
        for k, v in vits_reg.vit.state_dict().items()
        if k not in ("reg_token", "pos_embed")
    }
    state |= {
        "register_tokens": torch.randn(1, 4, 384),
        "mask_token": torch.zeros(1, 384),
        "pos_embed": torch.randn(1, 1 + 37 * 37, 384),
    }
    path = tmp_path / "dinov2_vits14_reg4_pretrain.pth"
    torch.save(state, path)
    loaded = build_backbone({"name": "dinov2_vits14_reg", "pretrained": str(path)}, (112, 112))
    assert loaded.load_report.clean, loaded.load_report.summary()
    vit = loaded.vit
    torch.testing.assert_close(vit.reg_token.data, state["register_tokens"])
    torch.testing.assert_close(vit.cls_token.data, state["cls_token"] + state["pos_embed"][:, 0])
    expected = resample_abs_pos_embed(state["pos_embed"][:, 1:], (8, 8), (37, 37), num_prefix_tokens=0)
    torch.testing.assert_close(vit.pos_embed.data, expected)
    torch.testing.assert_close(vit.blocks[11].mlp.fc2.weight.data, state["blocks.11.mlp.fc2.weight"])


def test_vit_download_offline_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache: nothing to fall back on
    with (
        torch.device("meta"),
        pytest.raises(UserError, match="could not download pretrained weights for vit_small_patch14_dinov2"),
    ):
        build_backbone({"name": "dinov2_vits14", "pretrained": True}, (224, 224))
