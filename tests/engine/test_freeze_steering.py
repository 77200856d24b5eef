"""Freezing or unfreezing a module group mid-run: the steered phase, the trainer's setter, resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from engine.checkpoint import load_checkpoint
from engine.core.config import resolve_config
from engine.core.errors import ConfigError
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    send_control,
    write_json_atomic,
)
from engine.freeze import FREEZE, ModelPaths, apply_phase, enforce_norm_eval, steered_value
from engine.models import build_vpr_model
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.trainer import Trainer
from tests.engine.conftest import tiny_overrides


def _resnet() -> nn.Module:
    return build_vpr_model(
        {
            "backbone": {"name": "resnet18", "pretrained": False},
            "aggregator": {"name": "gem"},
            "head": {"name": "linear"},
            "descriptor_dim": 16,
            "image_size": [64, 64],
        }
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, False),
        ("on", False),
        ("frozen", False),
        (False, True),
        ("off", True),
        ("unfreeze", True),
        ("schedule", None),
        ("AUTO", None),
    ],
)
def test_steered_values(value: object, expected: bool | None) -> None:
    assert steered_value("freeze.backbone", value) is expected


def test_a_bad_value_names_the_key_and_the_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"freeze.head: expected on \(freeze\), off \(unfreeze\) or schedule"
    ):
        steered_value("freeze.head", "maybe")


def test_overrides_win_over_the_phase_in_order_and_freeze_batchnorms() -> None:
    model = _resnet()
    modules = model.module_groups()
    phase = FREEZE.build("none").phases(10, 5, ModelPaths(modules))[0]
    steered = phase.steered({"backbone": False, "backbone.layer4": True})
    assert steered.label == "all · steered -backbone +layer4" and phase.steered({}) is phase
    groups = apply_phase(modules, steered)
    assert groups == {
        "backbone.stem": False,
        "backbone.layer1": False,
        "backbone.layer2": False,
        "backbone.layer3": False,
        "backbone.layer4": True,
        "aggregator": True,
        "head": True,
    }
    assert steered.event(groups)["steered"] == {"backbone": "frozen", "backbone.layer4": "trainable"}
    model.train()
    enforce_norm_eval(modules, steered)
    body = model.backbone.body
    assert not body.layer1[0].bn1.training and body.layer4[0].bn1.training
    frozen = FREEZE.build("frozen_backbone").phases(10, 5, ModelPaths(modules))[0]
    apply_phase(modules, frozen.steered({"backbone": True}))
    assert all(p.requires_grad for p in model.parameters())


def _backbone(task) -> torch.Tensor:  # type: ignore[no-untyped-def]
    return torch.cat([p.detach().flatten().clone() for p in task.model.backbone.parameters()])


def _trainer(runs: Path, city: Path, steps: int, *extra: str) -> Trainer:
    cfg = resolve_config("demo", [*tiny_overrides(city, steps), *extra])
    paths = create_run(runs, "t")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "t", "vpr", [], max_steps=steps))
    runtime = make_runtime(cfg["device"])
    task = TASKS.build("vpr", cfg, runtime, seed_everything(cfg["train"]["seed"]))
    events = EventWriter(paths.events)
    return Trainer(paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events))


def _steer_during(trainer: Trainer, call: int, values: dict) -> list[torch.Tensor]:
    """Send `set values` while the `call`-th batch is drawn; returns the backbone as it was before each batch."""
    task, original, snapshots = trainer.task, trainer.task.next_batch, []

    def next_batch():  # type: ignore[no-untyped-def]
        snapshots.append(_backbone(task))
        if len(snapshots) == call:
            send_control(trainer.paths.control, "set", values)
        return original()

    task.next_batch = next_batch  # type: ignore[method-assign]
    return snapshots


def _events(trainer: Trainer, kind: str) -> list[dict]:
    trainer.events.close()
    return [e for e in iter_events(trainer.paths.events) if e["kind"] == kind]


def test_freezing_the_backbone_mid_run_stops_its_updates_and_survives_resume(
    tmp_path: Path, tiny_city: Path
) -> None:
    trainer = _trainer(tmp_path / "runs", tiny_city, 6)
    snapshots = _steer_during(trainer, 3, {"freeze.backbone": "on"})
    assert trainer.train() == "completed"
    final = _backbone(trainer.task)
    assert not torch.equal(snapshots[2], snapshots[3])  # step 3 still trained the backbone
    assert all(torch.equal(s, final) for s in snapshots[3:])  # applied after step 3: no update since
    answer = _events(trainer, "control")[0]
    assert (answer["status"], answer["step"], answer["values"]) == (
        "applied",
        3,
        {"freeze.backbone": "frozen"},
    )
    freeze = [(e["step"], e.get("steered")) for e in _events(trainer, "freeze")]
    assert freeze == [(0, None), (3, {"backbone": "frozen"})]
    state = load_checkpoint(trainer.paths.checkpoints / "last.pt")
    assert state["freeze_overrides"] == [("backbone", False)]

    resumed = _trainer(tmp_path / "again", tiny_city, 8)
    resumed.restore(state)
    assert resumed.train() == "completed"
    assert torch.equal(_backbone(resumed.task), final)  # still frozen after the resume
    assert _events(resumed, "freeze")[0]["steered"] == {"backbone": "frozen"}


def test_unfreezing_a_frozen_backbone_and_rejections(tmp_path: Path, tiny_city: Path) -> None:
    trainer = _trainer(tmp_path / "runs", tiny_city, 5, "freeze=frozen_backbone")
    snapshots = _steer_during(trainer, 2, {"freeze.backbone.-1": "off"})
    original = trainer.task.next_batch

    def with_bad_commands():  # type: ignore[no-untyped-def]
        if len(snapshots) == 3:
            send_control(trainer.paths.control, "set", {"freeze.backbone": "maybe"})
            send_control(trainer.paths.control, "set", {"freeze.decoder": "on"})
        return original()

    trainer.task.next_batch = with_bad_commands  # type: ignore[method-assign]
    assert trainer.train() == "completed"
    assert torch.equal(snapshots[0], snapshots[1])  # frozen by the schedule
    assert not torch.equal(snapshots[2], _backbone(trainer.task))  # the last stage trains once unfrozen
    stem = next(iter(trainer.task.model.backbone.parameters()))
    assert not stem.requires_grad
    answers = _events(trainer, "control")
    assert [a["status"] for a in answers] == ["applied", "rejected", "rejected"]
    assert answers[0]["values"] == {"freeze.backbone.-1": "trainable"}
    assert "expected on (freeze), off (unfreeze) or schedule" in answers[1]["reason"]
    assert "unknown group 'decoder'; available: backbone" in answers[2]["reason"]
    steered = _events(trainer, "freeze")[-1]
    assert steered["step"] == 2 and steered["steered"] == {"backbone.layers.7": "trainable"}
    assert steered["groups"]["backbone.layers.7"] is True and steered["groups"]["backbone.layers.0"] is False


def test_a_backbone_read_from_the_feature_cache_cannot_be_unfrozen(
    tmp_path: Path, tiny_city: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABCONSOLE_CACHE", str(tmp_path / "cache"))
    trainer = _trainer(
        tmp_path / "runs", tiny_city, 2, "freeze=frozen_backbone", "augment=none", "train.feature_cache=on"
    )
    with pytest.raises(ConfigError, match="freeze.backbone.-1: this run trains on cached backbone features"):
        trainer.freeze_change("backbone.-1", "off")
    reported, commit = trainer.freeze_change("head", "on")
    assert reported == "frozen" and trainer.freeze_overrides == {}  # checked, not applied yet
    commit()
    assert trainer.freeze_overrides == {"head": False, "loss": False}
    reported, commit = trainer.freeze_change("head", "schedule")
    commit()
    assert reported == "schedule" and trainer.freeze_overrides == {}


def test_a_command_with_one_bad_key_changes_nothing(tmp_path: Path, tiny_city: Path) -> None:
    trainer = _trainer(tmp_path / "runs", tiny_city, 3)
    lr = trainer.schedule.base_lr
    [action] = trainer.steering.handle(
        [{"id": "a", "action": "set", "values": {"optim.lr": 0.5, "freeze.decoder": "on"}}], step=0
    ) or [None]
    assert action is None and trainer.schedule.base_lr == lr and trainer.freeze_overrides == {}
    answer = _events(trainer, "control")[0]
    assert answer["status"] == "rejected" and "unknown group 'decoder'" in answer["reason"]
