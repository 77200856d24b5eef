"""Epoch units, scheduled changes (schedule.changes) and the no-augmentation tail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from engine.core.config import resolve_config
from engine.core.errors import ConfigError, UserError
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    write_json_atomic,
)
from engine.core.protocol.rundir import read_json
from engine.core.schedules import lr_factor
from engine.core.schedules.changes import parse_changes, settable_keys
from engine.core.schedules.epochs import convert_epochs, epochs_to_steps
from engine.data.augment import Switchable
from engine.data.pair_augment import PAIR_AUGMENTS
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.trainer import Trainer
from tests.engine.conftest import tiny_overrides


def _seg(*overrides: str) -> dict[str, Any]:
    return resolve_config("seg_demo", list(overrides), check_paths=False)


# -- epoch units -------------------------------------------------------------------------------------------------
def test_epochs_convert_once_rounding_up_like_freeze_phases() -> None:
    assert epochs_to_steps(30, 411.2) == 12_336
    assert epochs_to_steps(0.1, 30) == 3  # 0.1 × 30 is 3.0000000000000004 in floats: still 3
    assert epochs_to_steps(0.01, 10) == 1  # at least one step
    cfg = _seg("train.max_epochs=30", "schedule.warmup_epochs=0.5", "augment.no_aug_epochs=2")
    done = convert_epochs(cfg, 411.2)
    assert [c.text() for c in done] == [
        "train.max_epochs 30 → 12,336 steps (411 steps/epoch)",
        "schedule.warmup_epochs 0.5 → 206 steps (411 steps/epoch)",
        "augment.no_aug_epochs 2 → 823 steps (411 steps/epoch)",
    ]
    assert (cfg["train"]["max_steps"], cfg["schedule"]["warmup_steps"], cfg["augment"]["no_aug_steps"]) == (
        12_336,
        206,
        823,
    )
    assert lr_factor(cfg["schedule"], 0, 12_336) < 0.01  # the section's own keys never reach the LR function


def test_an_epoch_key_replaces_the_step_key_of_an_earlier_layer_but_not_one_next_to_it(
    tmp_path: Path,
) -> None:
    assert _seg("train.max_epochs=3")["train"]["max_epochs"] == 3  # the preset's max_steps: 400 yields
    with pytest.raises(
        ConfigError, match=r"train.max_epochs: set together with train.max_steps on the command"
    ):
        _seg("train.max_steps=7", "train.max_epochs=3")
    assert _seg("train.max_epochs=0", "train.max_steps=7")["train"]["max_steps"] == 7  # 0 is unused
    both = tmp_path / "both.yaml"
    both.write_text(
        "task: segmentation\ndata: {root: x, synthetic: true}\ntrain: {batch_size: 4, max_steps: 9, max_epochs: 2}\n"
    )
    with pytest.raises(ConfigError, match="train.max_epochs: set together with train.max_steps"):
        resolve_config(both, check_paths=False)
    epochs = tmp_path / "epochs.yaml"
    epochs.write_text(
        "task: segmentation\ndata: {root: x, synthetic: true}\ntrain: {batch_size: 4, max_epochs: 2}\n"
    )
    assert resolve_config(epochs, ["train.max_steps=5"], check_paths=False)["train"]["max_epochs"] == 0
    with pytest.raises(UserError, match="schedule.warmup_epochs: expected a number"):
        _seg("schedule.warmup_epochs=-1")


def test_the_yolox_schedule_and_the_augmentation_share_one_tail() -> None:
    cfg = resolve_config("demo", ["schedule=warmcos", "augment.no_aug_steps=30"], check_paths=False)
    assert cfg["schedule"]["no_aug_steps"] == 30
    cfg = resolve_config("demo", ["schedule=warmcos", "schedule.no_aug_steps=20"], check_paths=False)
    assert cfg["augment"]["no_aug_steps"] == 20


# -- schedule.changes --------------------------------------------------------------------------------------------
def test_changes_accept_what_set_accepts_and_name_the_allowed_keys() -> None:
    cfg = _seg(
        "schedule.changes=[{at_epoch: 28, set: {schedule.power: 1.2}}, {at_step: 5, set: {loss.lovasz.weight: 0.5}}]"
    )
    first, second = parse_changes(cfg)
    assert (first.step(10.0), first.values) == (280, {"schedule.power": 1.2})
    assert (second.step(10.0), second.values) == (5, {"loss.weight.lovasz": 0.5})
    keys = settable_keys(cfg)
    assert {"optim.lr", "loss.weight.ce", "loss.weight.lovasz", "schedule.power", "augment.enabled"} <= set(
        keys
    )
    with pytest.raises(
        ConfigError,
        match=r"schedule.changes\[0\].set.schedule.powr: cannot set schedule.powr "
        r"\(did you mean 'schedule.power'\?\); settable: optim.lr, ",
    ):
        _seg("schedule.changes=[{at_step: 1, set: {schedule.powr: 1.2}}]")
    for bad, key in (
        ("[{at_step: 1, set: {optim.lr: 0}}]", r"\[0\].set.optim.lr: must be a learning rate"),
        ("[{at_step: 1, set: {freeze.head: maybe}}]", r"\[0\].set.freeze.head: expected on"),
        ("[{at_step: 9, set: {train.max_steps: 3}}]", r"\[0\].set.train.max_steps: must be ≥"),
        ("[{at_step: 1, at_epoch: 2, set: {optim.lr: 1.0e-3}}]", r"\[0\]: give exactly one"),
        ("[{at_step: 1, set: {}}]", r"\[0\].set: expected a mapping"),
        ("[{at_step: 1, set: {schedule.power: -2}}]", r"\[0\].set.schedule.power: expected a number"),
    ):
        with pytest.raises(ConfigError, match=r"schedule.changes" + key):
            _seg(f"schedule.changes={bad}")


def test_a_switched_off_augmentation_leaves_images_and_masks_alone() -> None:
    images, masks = torch.rand(4, 3, 16, 24), torch.randint(0, 4, (4, 16, 24), dtype=torch.uint8)
    switch = Switchable(PAIR_AUGMENTS.build("seg_basic", flip_p=1.0))
    flipped, _ = switch.pair(images, masks, torch.Generator().manual_seed(0))
    assert not torch.equal(flipped, images)
    switch.enabled = False
    assert switch.pair(images, masks, torch.Generator()) == (images, masks)
    assert switch(images, torch.Generator()) is images


# -- one tiny run ------------------------------------------------------------------------------------------------
def test_a_run_in_epochs_applies_its_scheduled_change_and_its_tail_without_augmentation(
    tmp_path: Path, tiny_city: Path
) -> None:
    overrides = [o for o in tiny_overrides(tiny_city) if not o.startswith("train.max_steps")]
    cfg = resolve_config(
        "demo",
        [
            *overrides,
            "train.max_epochs=0.2",  # 160 images / 8 per step = 20 steps an epoch: 4 steps
            "augment.no_aug_steps=2",
            "train.eval_at_start=false",
            "schedule.changes=[{at_step: 2, set: {optim.lr: 1.0e-3, schedule.min_lr_ratio: 0.5}}]",
        ],
    )
    paths = create_run(tmp_path / "runs", "t")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "t", "vpr", [], max_steps=4))
    runtime = make_runtime(cfg["device"])
    task = TASKS.build("vpr", cfg, runtime, seed_everything(0))
    events = EventWriter(paths.events)
    trainer = Trainer(paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events))
    assert trainer.max_steps == 4 and cfg["train"]["max_steps"] == 4
    assert set(trainer.steering.settable()) == set(settable_keys(cfg))  # check and the run agree on `set`
    augmented: list[int] = []
    inner = trainer.augment_switch.inner  # type: ignore[union-attr]

    def counting(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        augmented.append(trainer.step)
        return inner(images, generator)

    trainer.augment_switch.inner = counting  # type: ignore[union-attr]
    value, commit = trainer.freeze_change("backbone.layers.[67]", "on")  # `set` takes patterns too
    commit()
    assert value == "frozen" and trainer.freeze_overrides == {
        "backbone.layers.6": False,
        "backbone.layers.7": False,
    }
    assert trainer.train() == "completed"
    assert augmented == [0, 1]  # steps 3 and 4 drew batches without augmentation
    assert trainer.schedule.base_lr == pytest.approx(1e-3)
    trainer.events.close()
    found = list(iter_events(paths.events))
    controls = [
        (e["step"], e["id"], e["values"], e.get("scheduled")) for e in found if e["kind"] == "control"
    ]
    assert controls == [
        (2, "schedule.changes[0]", {"optim.lr": 1e-3, "schedule.min_lr_ratio": 0.5}, True),
        (2, "augment.no_aug_steps", {"augment.enabled": "off"}, True),
    ]
    [units] = [e for e in found if e["kind"] == "epoch_units"]
    assert units["converted"] == {"train.max_steps": {"from": "train.max_epochs", "epochs": 0.2, "steps": 4}}
    assert read_json(paths.run_json)["epoch_units"]["steps_per_epoch"] == 20.0


def test_check_shows_the_conversions_and_where_each_change_lands() -> None:
    from torch import nn

    from engine.core.config.warnings import config_warnings
    from engine.tasks.check_summary import summarise

    cfg = _seg(
        "train.max_epochs=3",
        "schedule.warmup_epochs=0.5",
        "schedule.changes=[{at_epoch: 2, set: {schedule.power: 1.2}}, {at_step: 90, set: {optim.lr: 1.0e-4}}]",
    )
    groups = {"backbone": nn.Linear(2, 2), "head": nn.Linear(2, 2)}
    summary = summarise(cfg, groups, "logits: 8 classes", train_images=400)  # 400 / 16 = 25 steps an epoch
    assert summary["output"].splitlines() == [
        "logits: 8 classes",
        "train.max_epochs 3 → 75 steps (25 steps/epoch)",
        "schedule.warmup_epochs 0.5 → 13 steps (25 steps/epoch)",
        "schedule.changes[0] at epoch 2 → step 50: schedule.power=1.2",
        "schedule.changes[1] at step 90: optim.lr=0.0001 (after max_steps: never applied)",
    ]
    assert summary["max_steps"] == 75 and cfg["train"]["max_steps"] == 1000  # check converts a copy
    assert config_warnings(cfg, summary) == [
        "schedule.changes[1] applies at step 90, after the run's 75 steps: it never runs"
    ]
