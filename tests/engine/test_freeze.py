"""Freeze schedules: presets, phases, requires_grad per stage, frozen BatchNorms, tables, AdamW."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import timm
import torch
import yaml
from torch import nn

from engine.core.config import resolve_config
from engine.core.errors import ConfigError
from engine.freeze import (
    DEFAULT_PHASES,
    FREEZE,
    ModelPaths,
    apply_phase,
    backbone_stages,
    enforce_norm_eval,
    phase_at,
    phase_table,
    warmup_factors,
)
from engine.models import build_vpr_model

SIZE = 64


def _model(backbone: dict) -> nn.Module:
    return build_vpr_model(
        {
            "backbone": {"pretrained": False, **backbone},
            "aggregator": {"name": "gem"},
            "head": {"name": "linear"},
            "descriptor_dim": 16,
            "image_size": [SIZE, SIZE],
        }
    )


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    return _model({"name": "resnet18"})


@pytest.fixture()
def cnn() -> nn.Module:
    return _model({"name": "plain_cnn", "width": 8})


def _tiny_vit() -> nn.Module:
    """A DINOv2-with-registers ViT cut to 2 blocks, held as `vit` like the ViT backbone wrapper holds it."""
    wrapper = nn.Module()
    wrapper.vit = timm.create_model(
        "vit_small_patch14_reg4_dinov2", pretrained=False, num_classes=0, img_size=28, depth=2
    )
    return wrapper


def _trainable(module: nn.Module) -> set[bool]:
    return {p.requires_grad for p in module.parameters()}


def _stage_flags(model: nn.Module) -> dict[str, set[bool]]:
    return {name: _trainable(stage) for name, stage in backbone_stages(model.backbone).items()}


# -- presets and phases ----------------------------------------------------------------------------------
def _presets(repo_root: Path) -> list[Path]:
    return sorted((repo_root / "presets" / "freeze").glob("*.yaml"))


def test_every_preset_builds_and_resolves(repo_root: Path) -> None:
    names = {p.stem for p in _presets(repo_root)}
    assert names >= {"none", "frozen_backbone", "trainable_from", "progressive"}
    for path in _presets(repo_root):
        section = resolve_config("demo", [f"freeze={path.stem}"], check_paths=False)["freeze"]
        params = {k: v for k, v in section.items() if k not in ("name", "preset")}
        phases = FREEZE.build(section["name"], **params).phases(max_steps=100, steps_per_epoch=10)
        assert phases[0].step == 0 and [p.index for p in phases] == list(range(len(phases)))


def test_presets_named_after_an_entry_list_its_parameters(repo_root: Path) -> None:
    for entry in FREEZE:
        preset = yaml.safe_load((repo_root / "presets" / "freeze" / f"{entry.name}.yaml").read_text())
        assert preset.pop("name") == entry.name and preset.pop("description")
        defaults = {p.name: p.default for p in inspect.signature(entry.factory).parameters.values()}
        if entry.name == "progressive":  # null in the signature stands for the default phases
            assert preset.pop("phases") == DEFAULT_PHASES and defaults.pop("phases") is None
        assert preset == defaults


def test_progressive_places_epoch_and_step_phases(resnet: nn.Module) -> None:
    schedule = FREEZE.build("progressive")
    phases = schedule.phases(max_steps=30, steps_per_epoch=12.5)
    assert [(p.step, p.label, p.in_run) for p in phases] == [
        (0, "head+aggregator", True),
        (13, "+stage -1", True),
        (25, "all", True),
    ]
    assert phases[0].trainable == {"head", "aggregator", "loss"}  # a margin loss trains with the head
    resolved = schedule.phases(max_steps=20, steps_per_epoch=10, model=ModelPaths(resnet.module_groups()))
    assert [(p.step, p.label, p.in_run) for p in resolved] == [
        (0, "head+aggregator", True),
        (10, "+layer4", True),
        (20, "all", False),
    ]
    assert [p.warmup_groups for p in resolved] == [(), ("backbone",), ("backbone",)]
    assert [phase_at(resolved, step).index for step in (0, 9, 10, 99)] == [0, 0, 1, 2]


def test_phases_are_sorted_and_phase_zero_is_implicit() -> None:
    schedule = FREEZE.build(
        "progressive",
        unfreeze_warmup_steps=3,
        phases=[{"at_epoch": 2, "trainable": "all"}, {"at_step": 5, "trainable": ["head"]}],
    )
    phases = schedule.phases(max_steps=100, steps_per_epoch=4)
    assert [(p.step, p.label) for p in phases] == [(0, "all"), (5, "head"), (8, "all")]
    assert warmup_factors(phases[2], 8) == {"backbone": 0.25, "aggregator": 0.25}
    assert warmup_factors(phases[2], 10) == {"backbone": 0.75, "aggregator": 0.75}
    assert warmup_factors(phases[2], 11) == {} and warmup_factors(phases[1], 5) == {}
    with pytest.raises(ConfigError, match=r"freeze.phases\[1\]: starts at step 8"):
        FREEZE.build(
            "progressive", phases=[{"at_step": 8, "trainable": "all"}, {"at_epoch": 2, "trainable": ["head"]}]
        ).phases(100, 4)


@pytest.mark.parametrize(
    ("phases", "key"),
    [
        ("head", r"freeze.phases"),
        ([{"trainable": "all"}], r"freeze.phases\[0\]"),
        ([{"at_step": 0, "at_epoch": 1, "trainable": "all"}], r"freeze.phases\[0\]"),
        ([{"at_step": -1, "trainable": "all"}], r"freeze.phases\[0\].at_step"),
        ([{"at_step": 0, "trainable": []}], r"freeze.phases\[0\].trainable"),
        ([{"at_step": 0, "trainable": "all", "lr": 1}], r"freeze.phases\[0\].lr"),
    ],
)
def test_bad_phases_name_their_key(phases: object, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        FREEZE.build("progressive", phases=phases)


# -- stages and apply_phase ------------------------------------------------------------------------------
def test_stage_names_partition_the_backbone(resnet: nn.Module, cnn: nn.Module) -> None:
    assert list(backbone_stages(resnet.backbone)) == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert list(backbone_stages(cnn.backbone)) == [f"layers.{i}" for i in range(8)]
    vit = _tiny_vit()
    stages = backbone_stages(vit)
    assert list(stages) == ["stem", "blocks.0", "blocks.1"]
    assert {"cls_token", "reg_token", "pos_embed"} <= {n for n, _ in stages["stem"].named_parameters()}
    assert vit.vit.norm.weight in set(stages["blocks.1"].parameters())  # the final norm ends the last stage
    for backbone in (resnet.backbone, cnn.backbone, vit):
        counted = [id(p) for stage in backbone_stages(backbone).values() for p in stage.parameters()]
        assert sorted(counted) == sorted(id(p) for p in backbone.parameters())  # each parameter exactly once


def test_apply_phase_on_resnet_flips_requires_grad_per_stage(resnet: nn.Module) -> None:
    modules = resnet.module_groups()
    phases = FREEZE.build("trainable_from").phases(10, 5, ModelPaths(modules))
    groups = apply_phase(modules, phases[0])
    assert phases[0].label == "from layer3"
    assert groups == {
        "backbone.stem": False,
        "backbone.layer1": False,
        "backbone.layer2": False,
        "backbone.layer3": True,
        "backbone.layer4": True,
        "aggregator": True,
        "head": True,
    }
    assert _stage_flags(resnet) == {
        "stem": {False},
        "layer1": {False},
        "layer2": {False},
        "layer3": {True},
        "layer4": {True},
    }
    everything = FREEZE.build("none").phases(10, 5, ModelPaths(modules))[0]
    assert apply_phase(modules, everything) == {"backbone": True, "aggregator": True, "head": True}
    assert _trainable(resnet) == {True}


def test_apply_phase_on_plain_cnn_by_index_and_norm_path(cnn: nn.Module) -> None:
    modules = cnn.module_groups()
    phase = FREEZE.build("trainable_from", stage=-2).phases(10, 5, ModelPaths(modules))[0]
    apply_phase(modules, phase)
    assert phase.label == "from layers.6"
    assert [flags == {True} for flags in _stage_flags(cnn).values()] == [False] * 6 + [True] * 2
    norms_only = FREEZE.build("progressive", phases=[{"at_step": 0, "trainable": ["backbone.norm"]}])
    groups = apply_phase(modules, norms_only.phases(10, 5, ModelPaths(modules))[0])
    assert groups["backbone.norm"] is True and groups["head"] is False
    assert all(
        p.requires_grad == isinstance(m, nn.BatchNorm2d)
        for m in cnn.backbone.modules()
        for p in m.parameters(recurse=False)
    )


def test_unknown_path_lists_the_models_stages(cnn: nn.Module) -> None:
    schedule = FREEZE.build(
        "progressive",
        phases=[
            {"at_step": 0, "trainable": ["head"]},
            {"at_epoch": 1, "trainable": ["head", "backbone.layer4"]},
        ],
    )
    with pytest.raises(
        ConfigError,
        match=r"freeze.phases\[1\].trainable: unknown group 'backbone.layer4'; "
        r"available: backbone, backbone.layers.0, .*backbone.layers.7",
    ):
        schedule.phases(10, 5, ModelPaths(cnn.module_groups()))
    with pytest.raises(ConfigError, match=r"freeze.stage: unknown group 'backbone.layer3'"):
        FREEZE.build("trainable_from", stage="layer3").phases(10, 5, ModelPaths(cnn.module_groups()))


def test_a_later_phase_freezes_again(cnn: nn.Module) -> None:
    modules = cnn.module_groups()
    late = FREEZE.build("progressive", phases=[{"at_epoch": 44, "trainable": ["aggregator", "head"]}])
    phases = late.phases(max_steps=1000, steps_per_epoch=10, model=ModelPaths(modules))
    assert [(p.step, p.label, p.warmup_groups) for p in phases] == [
        (0, "all", ()),
        (440, "aggregator+head", ()),
    ]
    apply_phase(modules, phases[0])
    assert _trainable(cnn) == {True}
    assert apply_phase(modules, phases[1]) == {"backbone": False, "aggregator": True, "head": True}
    assert _trainable(cnn.backbone) == {False} and _trainable(cnn.head) == {True}


def test_frozen_batchnorms_stay_in_eval_mode(resnet: nn.Module) -> None:
    modules = resnet.module_groups()
    phase = FREEZE.build("trainable_from", stage="layer4").phases(10, 5, ModelPaths(modules))[0]
    apply_phase(modules, phase)
    resnet.train()  # what the task does before every step
    enforce_norm_eval(modules, phase)
    frozen_bn, live_bn = resnet.backbone.body.layer1[0].bn1, resnet.backbone.body.layer4[0].bn1
    stats = frozen_bn.running_mean.clone()
    resnet(torch.randn(2, 3, SIZE, SIZE))
    assert not frozen_bn.training and live_bn.training and resnet.head.training
    assert torch.equal(frozen_bn.running_mean, stats)  # statistics of a frozen stage do not drift
    apply_phase(
        modules, FREEZE.build("none").phases(10, 5, ModelPaths(modules))[0]
    )  # leave the shared model trainable


def test_phase_table_adds_up_and_restores_the_model(resnet: nn.Module) -> None:
    modules = resnet.module_groups()
    before = [p.requires_grad for p in resnet.parameters()]
    table = phase_table(modules, FREEZE.build("progressive"), max_steps=100, steps_per_epoch=10)
    assert [(t["step"], t["label"]) for t in table] == [(0, "head+aggregator"), (10, "+layer4"), (20, "all")]
    total = sum(p.numel() for p in resnet.parameters())
    for entry in table:
        *groups, last = entry["rows"]
        assert last["group"] == "total" and last["params"] == total == sum(r["params"] for r in groups)
        assert all(r["trainable"] + r["frozen"] == r["params"] for r in entry["rows"])
        assert sum(r["trainable"] for r in entry["stages"]) == groups[0]["trainable"]  # backbone row
    assert table[1]["stages"][-1]["trainable"] == table[1]["rows"][0]["trainable"] > 0  # only layer4
    assert table[2]["rows"][-1]["frozen"] == 0
    assert [p.requires_grad for p in resnet.parameters()] == before


# -- the optimizer -------------------------------------------------------------------------------------
def test_unfrozen_parameters_join_adamw_without_rebuilding_it() -> None:
    torch.manual_seed(0)
    modules = {"backbone": nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4)), "head": nn.Linear(4, 2)}
    optimizer = torch.optim.AdamW(
        [{"params": list(m.parameters()), "name": n} for n, m in modules.items()], lr=0.1, weight_decay=0.1
    )
    phases = FREEZE.build(
        "progressive", phases=[{"at_step": 0, "trainable": ["head"]}, {"at_step": 3, "trainable": "all"}]
    ).phases(6, 1, ModelPaths(modules))
    frozen = modules["backbone"][0].weight
    start = frozen.detach().clone()
    for step in range(6):
        if step in (0, 3):
            apply_phase(modules, phase_at(phases, step))
        optimizer.zero_grad(set_to_none=True)
        modules["head"](modules["backbone"](torch.randn(8, 4))).pow(2).mean().backward()
        optimizer.step()
        if step < 3:  # no grad: AdamW skips it, weight decay included, and keeps no state for it
            assert frozen.grad is None and torch.equal(frozen, start) and frozen not in optimizer.state
    assert not torch.equal(frozen, start)
    assert int(optimizer.state[frozen]["step"]) == 3  # fresh moments from the unfreeze on
    assert int(optimizer.state[modules["head"].weight]["step"]) == 6
