"""Config warnings: valid configs that cannot do what they seem to (torch-free)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.core.config import resolve_config
from engine.core.config.presets import list_presets, preset_fits
from engine.core.config.warnings import config_warnings, feature_map_size


def demo(*overrides: str) -> dict[str, Any]:
    return resolve_config("demo", list(overrides), check_paths=False)


def test_the_demo_has_no_warnings() -> None:
    assert config_warnings(demo(), {"feature_map": [3, 5], "backbone_stride": 16}, gpus=0) == []


def test_a_freeze_phase_after_max_steps() -> None:
    cfg = demo(
        "freeze=progressive",
        "freeze.phases=[{at_step: 0, trainable: [head]}, {at_step: 400, trainable: all}]",
    )
    [warning] = [w for w in config_warnings(cfg) if "never runs" in w]
    assert "freeze phase 1" in warning and "step 400" in warning and "train.max_steps=250" in warning


def test_an_epoch_phase_is_placed_with_the_counted_steps_per_epoch() -> None:
    cfg = demo(
        "freeze=progressive", "freeze.phases=[{at_step: 0, trainable: all}, {at_epoch: 2, trainable: [head]}]"
    )
    counted = {"steps_per_epoch": 100.0, "steps_per_epoch_counted": True}
    assert not [w for w in config_warnings(cfg, counted) if "never runs" in w]  # epoch 2 = step 200 < 250
    late = [w for w in config_warnings(cfg, {**counted, "steps_per_epoch": 200.0}) if "never runs" in w]
    assert late and "step 400" in late[0] and "estimated" not in late[0]


def test_a_frozen_backbone_that_is_not_pretrained() -> None:
    [warning] = config_warnings(demo("freeze=frozen_backbone"))
    assert "plain_cnn" in warning and "not pretrained" in warning and "pretrained is false" in warning
    partly = config_warnings(demo("model.backbone=resnet18", "freeze=trainable_from"))
    assert len(partly) == 1 and "partly frozen" in partly[0] and "pretrained is false" in partly[0]
    assert (
        config_warnings(
            demo("model.backbone=resnet18", "model.backbone.pretrained=true", "freeze=frozen_backbone")
        )
        == []
    )


def test_a_feature_map_smaller_than_3x3() -> None:
    [warning] = config_warnings(demo(), {"feature_map": [2, 3], "backbone_stride": 32})
    assert "2×3" in warning and "model.image_size=[48, 72]" in warning and "stride 32" in warning
    assert config_warnings(demo("model.aggregator=cls"), {"feature_map": [1, 1]}) == []  # one token by design


def test_feature_map_size_rounds_up() -> None:
    assert feature_map_size([48, 72], 32) == [2, 3]
    assert feature_map_size(224, 14) == [16, 16]


@pytest.mark.parametrize(("gpus", "warned"), [(0, True), (1, False), (None, False)])
def test_cuda_on_a_host_without_one(gpus: int | None, warned: bool) -> None:
    warnings = config_warnings(demo("device=cuda"), gpus=gpus)
    assert bool(warnings) is warned
    assert not warned or "no CUDA GPU" in warnings[0]
    assert config_warnings(demo("device=cuda", "device.launcher=slurm"), gpus=0) == []


def test_a_preset_made_for_another_task() -> None:
    assert config_warnings(demo("loss=dice")) == ["loss: the loss preset dice is not made for the vpr task"]
    mixed = demo("loss=mix", "loss.components=[{preset: cosface}, {preset: lovasz}]")
    assert config_warnings(mixed) == ["loss: the loss preset lovasz is not made for the vpr task"]


def test_presets_declare_the_tasks_they_fit() -> None:
    assert "dice" not in list_presets("loss", "vpr") and "cosface" in list_presets("loss", "vpr")
    assert "cosface" not in list_presets("loss", "segmentation") and "lovasz" in list_presets(
        "loss", "segmentation"
    )
    assert preset_fits("loss", "mix", "vpr") and preset_fits("backbone", "resnet18", "segmentation")
    assert list_presets("head", "segmentation") == ["aspp", "deeplabv3", "fpn", "linear"]
    assert "tasks" not in resolve_config("demo", ["loss=cosface"], check_paths=False)["loss"]
