"""Backbones, aggregators, heads, VPR model: every registry entry builds, runs and matches its preset."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import timm
import torch
import yaml

from engine.core.errors import ConfigError, UserError
from engine.core.schedules import SCHEDULES
from engine.core.schedules import SECTION_KEYS as SCHEDULE_SECTION_KEYS
from engine.losses import LOSSES
from engine.models import AGGREGATORS, BACKBONES, HEADS, build_backbone, build_vpr_model
from engine.param_counts import parameter_table

SIZE = 64


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """One intra-op thread: the CPU is shared, and small models only pay for thread hand-offs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _section(repo_root: Path, slot: str, preset: str) -> dict:
    """A preset file as the config system hands it over: without `description`."""
    data = yaml.safe_load((repo_root / "presets" / slot / f"{preset}.yaml").read_text())
    data.pop("description")
    return data


def _model_section(backbone: dict, aggregator: str = "gem", head: str = "linear") -> dict:
    """A `model` section shaped like the resolver's output (sections keep their `preset` key)."""
    return {
        "backbone": backbone,
        "aggregator": {"preset": aggregator, "name": aggregator},
        "head": {"preset": head, "name": head},
        "descriptor_dim": 32,
        "image_size": [SIZE, SIZE],
    }


# Cheap to build and run at 64 px; every other entry is covered by tests/engine/test_backbones_breadth.py.
FAST_BACKBONES = ["plain_cnn", "resnet18", "mobilenetv3_small", "efficientnet_b0"]
# Aggregator parameters small enough for a fast CPU test (the presets' defaults are sized for real runs).
SMALL_AGGREGATORS = {
    "netvlad": {"clusters": 4},
    "mixvpr": {"out_channels": 8, "mix_depth": 1},
    "salad": {"num_clusters": 4, "cluster_dim": 4, "token_dim": 4},
    "boq": {"num_queries": 4, "num_layers": 1, "row_dim": 2, "proj_channels": 16},
}


@pytest.mark.parametrize("name", FAST_BACKBONES)
def test_fast_backbones_run_forward_backward(repo_root: Path, name: str) -> None:
    backbone = build_backbone(_section(repo_root, "backbone", name))
    out = backbone(torch.randn(2, 3, SIZE, SIZE))
    out.mean().backward()
    side = math.ceil(SIZE / backbone.stride)
    assert out.shape == (2, backbone.out_channels, side, side)
    assert all(p.grad is not None for p in backbone.parameters())


# cls takes a ViT's CLS token only (tests/engine/test_aggregators.py).
@pytest.mark.parametrize("aggregator", sorted(set(AGGREGATORS.names()) - {"cls"}))
def test_vpr_model_gives_unit_descriptors(aggregator: str) -> None:
    section = _model_section({"name": "plain_cnn", "depth": 4, "width": 8}, aggregator, "linear")
    section["aggregator"].update(SMALL_AGGREGATORS.get(aggregator, {}))
    model = build_vpr_model(section)
    assert model.head.layers[0].in_features == model.aggregator.out_dim  # the head sized itself
    descriptors = model(torch.randn(3, 3, SIZE, SIZE))
    descriptors.sum().backward()
    assert model.descriptor_dim == 32 and descriptors.shape == (3, 32)
    torch.testing.assert_close(descriptors.norm(dim=1), torch.ones(3))
    assert set(model.module_groups()) == {"backbone", "aggregator", "head"}
    assert model.backbone.layers[0][0].weight.grad is not None


@pytest.mark.parametrize("head", HEADS.names())
def test_every_head_sizes_itself(head: str) -> None:
    model = build_vpr_model(_model_section({"name": "plain_cnn", "depth": 4, "width": 8}, "gem", head))
    descriptors = model(torch.randn(3, 3, SIZE, SIZE))
    descriptors.sum().backward()
    expected_dim = model.backbone.out_channels if head == "none" else 32
    assert model.descriptor_dim == expected_dim and descriptors.shape == (3, expected_dim)
    torch.testing.assert_close(descriptors.norm(dim=1), torch.ones(3))


def test_timm_name_outside_registry_reads_channels_and_stride() -> None:
    backbone = build_backbone({"name": "mobilenetv3_small_050", "pretrained": False, "channels_last": True})
    out = backbone(torch.randn(2, 3, SIZE, SIZE))
    info = timm.create_model("mobilenetv3_small_050", features_only=True).feature_info
    assert (backbone.out_channels, backbone.stride) == (info.channels()[-1], info.reduction()[-1])
    assert out.shape == (2, backbone.out_channels, 2, 2)


def test_fixed_size_timm_model_follows_image_size(tmp_path: Path) -> None:
    """A ViT is built for model.image_size; weights saved at 224 px are resampled by timm on load."""
    path = tmp_path / "vit.pth"
    torch.save(timm.create_model("vit_tiny_patch16_224").state_dict(), path)
    section = _model_section({"name": "vit_tiny_patch16_224", "pretrained": str(path)}, "avg", "none")
    section["image_size"] = [32, 48]
    model = build_vpr_model(section)
    assert model.backbone.load_report.clean
    assert model(torch.randn(2, 3, 32, 48)).shape == (2, 192)


def test_unknown_backbone_lists_options() -> None:
    with pytest.raises(ConfigError) as err:
        build_backbone({"name": "resnt18"})
    assert err.value.key == "model.backbone.name"
    message = str(err.value)
    assert "did you mean 'resnet18'" in message
    assert "plain_cnn" in message and "or any timm model name" in message


def test_local_weights_torchvision_style(tmp_path: Path) -> None:
    import torchvision

    reference = torchvision.models.resnet18(weights=None)  # same key names as timm's resnet18
    path = tmp_path / "tv_resnet18.pth"
    torch.save(reference.state_dict(), path)
    backbone = build_backbone({"name": "resnet18", "pretrained": str(path)})
    torch.testing.assert_close(backbone.body.conv1.weight, reference.conv1.weight, rtol=0, atol=0)
    torch.testing.assert_close(backbone.body.layer4[1].bn2.running_var, reference.layer4[1].bn2.running_var)
    report = backbone.load_report
    assert report.clean and report.prefix == "" and report.loaded == report.expected


def test_local_weights_ddp_prefix_reports_missing_and_unexpected(tmp_path: Path) -> None:
    source = timm.create_model("resnet18").state_dict()
    dropped = ["layer4.1.bn2.weight", "layer4.1.bn2.bias"]
    state = {f"module.{k}": v for k, v in source.items() if k not in dropped}
    state["module.extra.weight"] = torch.zeros(3)
    path = tmp_path / "ddp.pt"
    torch.save({"epoch": 3, "state_dict": state}, path)

    backbone = build_backbone({"name": "resnet18", "pretrained": str(path)})
    report = backbone.load_report
    assert report.prefix == "module."
    assert report.missing == dropped and report.unexpected == ["extra.weight"]
    assert report.loaded == len(source) - 2
    assert "missing 2: layer4.1.bn2.weight, layer4.1.bn2.bias" in report.summary()
    torch.testing.assert_close(backbone.body.layer3[0].conv2.weight, source["layer3.0.conv2.weight"])


def test_local_weights_for_timm_model_with_renamed_feature_modules(tmp_path: Path) -> None:
    """convnext's features_only wrapper renames `stages.0` to `stages_0`: weights go in via the full model."""
    source = timm.create_model("convnext_atto").state_dict()
    source.pop("head.fc.weight")  # a backbone-only checkpoint: the unused classifier is not "missing"
    source["stem.0.weight"] = torch.zeros(5, 3, 4, 4)
    path = tmp_path / "convnext.pth"
    torch.save({"model": source}, path)
    backbone = build_backbone({"name": "convnext_atto", "pretrained": str(path)})
    report = backbone.load_report
    assert report.missing == [] and report.unexpected == []
    assert report.mismatched == ["stem.0.weight (5, 3, 4, 4) vs (40, 3, 4, 4)"]
    torch.testing.assert_close(
        backbone.body.stages_2.blocks[1].conv_dw.weight,
        source["stages.2.blocks.1.conv_dw.weight"],
        rtol=0,
        atol=0,
    )


def test_local_safetensors_for_plain_cnn(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    source = build_backbone({"name": "plain_cnn", "depth": 3, "width": 8})
    path = tmp_path / "plain.safetensors"
    save_file(source.state_dict(), str(path))
    loaded = build_backbone({"name": "plain_cnn", "depth": 3, "width": 8, "pretrained": str(path)})
    assert loaded.load_report.clean
    for (name, a), b in zip(source.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", None])
def test_bad_weights_file_is_a_user_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "weights.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match="weights.pth"):
        build_backbone({"name": "plain_cnn", "depth": 2, "width": 4, "pretrained": str(path)})


def test_weights_for_another_model_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"encoder.w": torch.zeros(2)}, path)
    with pytest.raises(UserError, match="no tensor in weights file"):
        build_backbone({"name": "plain_cnn", "depth": 2, "width": 4, "pretrained": str(path)})


def test_pretrained_download_offline_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache: nothing to fall back on
    with pytest.raises(UserError, match="could not download pretrained weights for resnet18") as err:
        build_backbone({"name": "resnet18", "pretrained": True})
    assert "model.backbone.pretrained" in str(err.value)
    with pytest.raises(UserError, match="no downloadable weights"):
        build_backbone({"name": "plain_cnn", "pretrained": True})


def test_parameter_table_sums_and_frozen() -> None:
    model = build_vpr_model(_model_section({"name": "plain_cnn", "depth": 4, "width": 8}))
    model.backbone.requires_grad_(False)
    rows = {row["group"]: row for row in parameter_table(model.module_groups())}
    assert list(rows) == ["backbone", "aggregator", "head", "total"]
    assert rows["total"]["params"] == sum(p.numel() for p in model.parameters())
    assert rows["backbone"]["trainable"] == 0
    assert rows["backbone"]["frozen"] == rows["backbone"]["params"] == rows["total"]["frozen"]
    assert rows["aggregator"]["params"] == 1  # GeM's learnable p
    assert rows["head"]["params"] == model.backbone.out_channels * 32 + 32


def test_plain_cnn_defaults() -> None:
    backbone = build_backbone({"name": "plain_cnn"})
    assert (backbone.out_channels, backbone.stride) == (256, 16)
    assert 1.1e6 < sum(p.numel() for p in backbone.parameters()) < 1.3e6
    assert backbone(torch.randn(2, 3, 48, 72)).shape == (2, 256, 3, 5)


@pytest.mark.parametrize("value", [[64], [0, 64], "64x64", [64.0, 64]])
def test_bad_image_size(value: object) -> None:
    section = _model_section({"name": "plain_cnn"}) | {"image_size": value}
    with pytest.raises(ConfigError, match="model.image_size"):
        build_vpr_model(section)


REGISTRIES = [
    ("backbone", BACKBONES),
    ("aggregator", AGGREGATORS),
    ("head", HEADS),
    ("loss", LOSSES),
    ("schedule", SCHEDULES),
]


PARAMS_OF_OTHER_PRESETS = {("loss", "cosface"): ("cosplace",)}
"""Factory parameters that another preset of the same factory carries (presets/loss/cosplace.yaml: CosFace on
CosPlace groups), so that the plain preset does not offer them."""


@pytest.mark.parametrize(("slot", "registry"), REGISTRIES, ids=[slot for slot, _ in REGISTRIES])
def test_presets_list_every_factory_param(repo_root: Path, slot: str, registry) -> None:
    for entry in registry:
        preset = _section(repo_root, slot, entry.name)
        assert preset.pop("name") == entry.name
        preset.pop("tasks", None)  # which tasks the preset fits: catalogue metadata, not a factory argument
        preset.pop("steerable", None)  # the options `set` may change mid-run: metadata too
        if slot == "schedule":  # keys of the whole section (epoch units, scheduled changes), not of a curve
            for key in SCHEDULE_SECTION_KEYS:
                preset.pop(key, None)
        # image_size comes from model.image_size, not from the backbone section.
        defaults = {
            p.name: p.default
            for p in inspect.signature(entry.factory).parameters.values()
            if p.default is not inspect.Parameter.empty
            and p.name != "image_size"
            and p.name not in PARAMS_OF_OTHER_PRESETS.get((slot, entry.name), ())
        }
        assert preset == defaults, f"presets/{slot}/{entry.name}.yaml"
        assert all(type(preset[k]) is type(defaults[k]) for k in preset), f"presets/{slot}/{entry.name}.yaml"


def test_default_backbone_preset_fits_any_timm_model(repo_root: Path) -> None:
    from engine.models.backbones import TimmBackbone

    preset = _section(repo_root, "backbone", "default")
    params = set(inspect.signature(TimmBackbone).parameters) - {"image_size"}  # from model.image_size
    assert set(preset) == params
    backbone = build_backbone(preset | {"name": "resnet10t"})
    assert backbone(torch.randn(2, 3, SIZE, SIZE)).shape[1] == backbone.out_channels
