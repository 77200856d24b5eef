"""The DeepLabv2 recipe (log 003) says what the log did: optimizer, LR split, dilated backbone, ASPP, changes."""

from __future__ import annotations

from engine.core.config import resolve_config
from engine.core.schedules.changes import parse_changes

RECIPE = "deeplabv2_loss_mix"
#: Run 5's moves: power 1.2 at epoch 28; loss weights 0.5/0.5, backbone frozen, power 2 at 46; power 1.2 at 47.
RUN5 = [
    {"schedule.power": 1.2},
    {"loss.weight.ce": 0.5, "loss.weight.lovasz": 0.5, "freeze.backbone": "on", "schedule.power": 2.0},
    {"schedule.power": 1.2},
]


def test_small_variant_is_deeplabv2_on_a_dilated_plain_cnn() -> None:
    cfg = resolve_config(RECIPE, check_paths=False)
    optim = cfg["optim"]
    assert (optim["name"], optim["momentum"], optim["weight_decay"]) == ("sgd", 0.9, 5e-4)
    assert optim["backbone_lr_mult"] == 0.1  # the head at 10× the backbone's LR
    assert cfg["schedule"]["name"] == "poly" and cfg["schedule"]["power"] == 0.9
    assert cfg["model"]["backbone"]["name"] == "plain_cnn" and cfg["model"]["backbone"]["output_stride"] == 8
    assert cfg["model"]["head"]["name"] == "aspp"
    assert [(c["name"], c["weight"]) for c in cfg["loss"]["components"]] == [("ce", 0.7), ("lovasz", 0.3)]
    changes = parse_changes(cfg)
    assert [c.values for c in changes] == RUN5
    assert [c.step(25) for c in changes] == [113, 182, 188]  # 400 images / 16 a batch = 25 steps an epoch


def test_real_variant_is_resnet101_at_output_stride_8_on_gta5_tested_on_cityscapes_val() -> None:
    cfg = resolve_config(f"{RECIPE}@real", check_paths=False)
    backbone = cfg["model"]["backbone"]
    assert (backbone["name"], backbone["output_stride"], backbone["pretrained"]) == ("resnet101", 8, True)
    assert cfg["model"]["head"]["rates"] == [6, 12, 18, 24]
    assert cfg["data"]["format"] == "gta5" and cfg["optim"]["lr"] == 2e-3  # backbone 2e-4, the log's LR
    assert cfg["schedule"]["warmup_steps"] == 500 and cfg["train"]["max_epochs"] == 50
    test_set = cfg["eval"]["test_sets"][0]
    assert (test_set["format"], test_set["split"]) == ("cityscapes", "val")
    changes = parse_changes(cfg)
    assert [c.at_epoch for c in changes] == [28, 46, 47] and [c.values for c in changes] == RUN5
