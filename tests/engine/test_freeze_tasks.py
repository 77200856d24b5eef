"""Freeze presets on every task (task-neutral group names) and freeze groups by name pattern."""

from __future__ import annotations

import pytest
from torch import nn

from engine.core.config import resolve_config
from engine.core.config.overrides import parse_override
from engine.core.errors import ConfigError
from engine.freeze import FREEZE, ModelPaths, apply_phase, build_freeze, phase_table, resolve_paths
from engine.models import build_vpr_model
from engine.models.cls_model import build_classification_model
from engine.models.seg_model import build_segmentation_model

PRESETS = ("none", "frozen_backbone", "trainable_from", "progressive", "late_freeze")
DEMOS = ("demo", "seg_demo", "cls_demo")
#: plain_cnn (the demos' backbone) has stages layers.0 … layers.7, not ResNet's layer3
STAGE = ["freeze.stage=-2"]


def _groups(demo: str) -> dict[str, nn.Module]:
    """The demo's model, narrowed to a width of 8 (one build per task), as its task hands it over."""
    cfg = resolve_config(demo, ["model.backbone.width=8"], check_paths=False)
    if demo == "demo":
        model = build_vpr_model(cfg["model"])
    elif demo == "seg_demo":
        model = build_segmentation_model(cfg["model"], num_classes=4)
    else:
        model = build_classification_model(cfg["model"], num_classes=4)
    return {**model.module_groups(), "loss": nn.Linear(2, 2)}


@pytest.fixture(scope="module", params=DEMOS)
def demo_model(request: pytest.FixtureRequest) -> tuple[str, dict[str, nn.Module]]:
    return request.param, _groups(request.param)


def test_every_freeze_preset_checks_on_every_task(demo_model: tuple[str, dict[str, nn.Module]]) -> None:
    demo, groups = demo_model
    for preset in PRESETS:
        extra = STAGE if preset == "trainable_from" else []
        cfg = resolve_config(demo, [f"freeze={preset}", *extra], check_paths=False)
        table = phase_table(groups, build_freeze(cfg["freeze"]), 100_000, 10.0)
        last = table[-1]
        frozen = {row["group"]: row["frozen"] for row in last["rows"]}
        if preset in ("frozen_backbone", "late_freeze"):
            assert frozen["backbone"] > 0 and frozen["head"] == 0, (demo, preset)
            assert frozen.get("aggregator", 0) == 0
        if preset == "trainable_from":
            assert frozen["backbone"] > 0 and frozen["head"] == 0


def test_the_late_freeze_trains_whatever_is_not_the_backbone() -> None:
    seg = _groups("seg_demo")
    phases = FREEZE.build("progressive", phases=[{"at_epoch": 2, "trainable": ["non_backbone"]}]).phases(
        100, 10, ModelPaths(seg)
    )
    assert [(p.step, p.label) for p in phases] == [(0, "all"), (20, "head")]
    # "aggregator" is the role between backbone and head: nothing on a model without one
    assert resolve_paths(seg, ["head", "aggregator"], "k") == ("head",)
    vpr = _groups("demo")
    assert resolve_paths(vpr, ["non_backbone"], "k") == ("aggregator", "head")


def test_patterns_match_module_names_and_the_table_shows_them() -> None:
    seg = _groups("seg_demo")
    schedule = FREEZE.build(
        "progressive",
        phases=[
            {"at_step": 0, "trainable": ["backbone.layers.[67]", "head.cl*"]},
            {"at_step": 5, "trainable": "all"},
        ],
    )
    first = phase_table(seg, schedule, 10, 5.0)[0]
    assert first["label"] == "layers.[67]+head.cl*"
    assert first["matched"] == {
        "backbone.layers.[67]": ["backbone.layers.6", "backbone.layers.7"],
        "head.cl*": ["head.classifier"],
    }
    rows = {row["group"]: row for row in first["stages"]}
    assert rows["head.classifier (head.cl*)"]["frozen"] == 0
    assert rows["backbone.layers.6 (backbone.layers.[67])"]["frozen"] == 0
    assert rows["backbone.layers.0"]["trainable"] == 0
    head = dict(seg["head"].named_parameters())
    apply_phase(seg, schedule.phases(10, 5, ModelPaths(seg))[0])
    assert all(p.requires_grad == name.startswith("classifier") for name, p in head.items())


def test_a_pattern_that_matches_nothing_lists_the_top_level_groups() -> None:
    seg = _groups("seg_demo")
    with pytest.raises(
        ConfigError,
        match=r"freeze.phases\[0\].trainable: the pattern 'neck.\*' matches no module; "
        r"top-level groups: backbone, head, loss",
    ):
        FREEZE.build("progressive", phases=[{"at_step": 0, "trainable": ["neck.*"]}]).phases(
            10, 5, ModelPaths(seg)
        )


def test_set_accepts_freeze_paths_with_patterns_ranges_and_indices() -> None:
    assert parse_override("freeze.backbone.layer3*=on")[0] == ["freeze", "backbone", "layer3*"]
    assert parse_override("freeze.backbone.-1=off")[0] == ["freeze", "backbone", "-1"]
    assert parse_override("freeze.backbone.layers.[67]=on")[0] == ["freeze", "backbone", "layers", "[67]"]


def test_scheduled_freeze_paths_are_checked_against_the_model() -> None:
    from engine.tasks.check_summary import _scheduled_changes

    seg = _groups("seg_demo")
    cfg = resolve_config(
        "seg_demo", ["schedule.changes=[{at_epoch: 2, set: {freeze.head.cl*: on}}]"], check_paths=False
    )
    [(line, entry)] = _scheduled_changes(cfg, seg, 10.0)
    assert line == "schedule.changes[0] at epoch 2 → step 20: freeze.head.cl*=on"
    assert entry == {"index": 0, "step": 20, "set": {"freeze.head.cl*": True}}
    cfg = resolve_config(
        "seg_demo", ["schedule.changes=[{at_step: 1, set: {freeze.neck: on}}]"], check_paths=False
    )
    with pytest.raises(ConfigError, match=r"schedule.changes\[0\].set.freeze.neck: unknown group 'neck'"):
        _scheduled_changes(cfg, seg, 10.0)
