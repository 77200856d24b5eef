"""Composer (issue 12 §4): run/train/eval fields, the overrides box, presets by task, loss-component parameters,
freeze phases as rows, the self-refreshing parameter table and the config warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Select, Static, TextArea

from engine.core.config import presets as presets_module
from tests.tui.fixtures import wait_for
from tests.tui.test_composer import (
    CANNED_MODEL,
    ComposerApp,
    field,
    pick,
    press_button,
    rendered,
    retype,
    row,
    settle,
)
from tui.data import check_runner
from tui.data.check_runner import CheckResult
from tui.screens import composer as composer_module
from tui.screens.composer import ComposerScreen
from tui.widgets.composer_freeze import PhaseRow
from tui.widgets.composer_loss import LossRow, MixComponent
from tui.widgets.composer_params import ParamTable

CLS_DEMO = presets_module.PRESETS_DIR / "runs" / "cls_demo.yaml"


def screen_of(pilot: Pilot[Any]) -> ComposerScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ComposerScreen)
    return screen


def resolved(pilot: Pilot[Any]) -> dict[str, Any]:
    cfg = screen_of(pilot).validation.cfg
    assert cfg is not None, screen_of(pilot).validation.problem
    return cfg


def options(pilot: Pilot[Any], label: str) -> list[str]:
    select = row(pilot, label).query_one(".slot-select", Select)
    return [str(value) for _, value in select._options if value is not Select.NULL]


def warnings_text(pilot: Pilot[Any]) -> str:
    box = screen_of(pilot).query_one("#composer-warnings", Static)
    return rendered(box) if box.display else ""


# -- fields ---------------------------------------------------------------------------------------------------


async def test_run_train_and_eval_fields_reach_the_config(tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs", CLS_DEMO)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await retype(pilot, field(pilot, "run", "description"), "bigger batches")
        await retype(pilot, field(pilot, "run", "tags"), "sweep, batch")
        await retype(pilot, field(pilot, "train", "train.batch_size"), "128")
        await retype(pilot, field(pilot, "train", "train.eval_every"), "25")
        await retype(pilot, field(pilot, "train", "train.seed"), "7")
        await retype(pilot, field(pilot, "backbone", "model.image_size"), "[64, 64]")
        await retype(pilot, field(pilot, "eval", "eval.test_sets"), "[{name: noisy, path: noisy}]")
        await settle(pilot)
        cfg = resolved(pilot)
        assert (cfg["description"], cfg["tags"]) == ("bigger batches", ["sweep", "batch"])
        assert (cfg["train"]["batch_size"], cfg["train"]["eval_every"], cfg["train"]["seed"]) == (128, 25, 7)
        assert cfg["model"]["image_size"] == [64, 64]
        assert [t["name"] for t in cfg["eval"]["test_sets"]] == ["noisy"]  # val is the validation set


async def test_a_vpr_run_sets_its_batch_as_places_times_images(tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        paths = [i.path for i in row(pilot, "train").query("FieldInput")]
        assert "train.batch_size" not in paths and "train.places_per_batch" in paths
        await retype(pilot, field(pilot, "train", "train.images_per_place"), "1")
        await settle(pilot)
        train = row(pilot, "train")
        assert train.has_class("-error") and field(pilot, "train", "train.images_per_place").has_class(
            "-invalid"
        )
        assert "at least 2 per place" in rendered(train.query_one(".slot-error", Static))


async def test_a_bad_field_shows_the_cli_error_under_its_row(tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await retype(pilot, field(pilot, "train", "train.eval_every"), "-1")
        await settle(pilot)
        error = rendered(row(pilot, "train").query_one(".slot-error", Static))
        assert "✗ eval_every: must be ≥ 0, got -1" in error  # under the train row
        assert field(pilot, "train", "train.eval_every").has_class("-invalid")


# -- overrides box ----------------------------------------------------------------------------------------------


async def test_the_overrides_box_applies_key_value_lines(tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        editor = row(pilot, "overrides").query_one(TextArea)
        assert app.focused is editor
        await pilot.press(*"train.grad_clip=1.5", "enter", *"# a comment")
        await settle(pilot)
        assert resolved(pilot)["train"]["grad_clip"] == 1.5
        editor.text = "train.grad_clip=-3"
        await settle(pilot)
        overrides = row(pilot, "overrides")
        assert overrides.has_class("-error") and editor.has_class("-invalid")
        assert not row(pilot, "train").has_class("-error")  # the line set it, so the line is blamed
        editor.text = "just words"
        await wait_for(pilot, lambda: "just words" in rendered(overrides.query_one(".slot-error", Static)))
        assert "line 1: expected key=value, got 'just words'" in rendered(
            overrides.query_one(".slot-error", Static)
        )
        editor.text = ""
        await settle(pilot)
        assert not overrides.has_class("-error") and screen_of(pilot).validation.ok


# -- presets by task --------------------------------------------------------------------------------------------


async def test_only_presets_made_for_the_task_are_offered(tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "dice" not in options(pilot, "loss") and "cosface" in options(pilot, "loss")
        assert "fpn" not in options(pilot, "head") and "seg_basic" not in options(pilot, "augment")
        await pick(pilot, "task", "segmentation")
        await settle(pilot)
        losses = options(pilot, "loss")
        assert "dice" in losses and "cosface" not in losses
        assert "multi_similarity" in losses  # the current choice stays offered (the validation says why not)
        await pick(pilot, "loss", "mix")
        mix = row(pilot, "loss").query(MixComponent).first()
        names = [str(v) for _, v in mix.query_one(Select)._options]
        assert "lovasz" in names and "cosface" not in names


async def test_a_preset_made_for_another_task_is_warned_about(tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs", presets_module.PRESETS_DIR / "runs" / "seg_demo.yaml")
    async with app.run_test(size=(120, 36)) as pilot:
        row(pilot, "overrides").query_one(TextArea).text = "augment=vpr_shift"
        await settle(pilot)
        assert "augment: the augment preset vpr_shift is not made for the segmentation task" in warnings_text(
            pilot
        )


# -- loss components' parameters --------------------------------------------------------------------------------


async def test_loss_mix_components_have_their_own_parameters(tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await pick(pilot, "loss", "cosface")
        field(pilot, "loss", "margin").value = "0.3"
        await pick(pilot, "loss", "mix")  # the single loss, its margin kept, is the first term
        loss = pilot.app.screen.query_one(LossRow)
        await press_button(pilot, loss.query_one(".mix-add", Button))
        cosface, second = loss.query(MixComponent)
        assert [i.key for i in cosface.query("FieldInput") if i is not cosface.weight] == ["margin", "scale"]
        second.query_one(Select).value = "multi_similarity"
        await pilot.pause()
        beta = next(i for i in second.query("FieldInput") if i.key == "beta")
        beta.value = "40"
        await settle(pilot)
        components = resolved(pilot)["loss"]["components"]
        assert (components[0]["name"], components[0]["margin"]) == ("cosface", 0.3)
        assert (components[1]["name"], components[1]["beta"]) == ("multi_similarity", 40)
        beta.value = "lots"
        await settle(pilot)
        assert beta.has_class("-invalid") and beta.path == "loss.components[1].beta"
        assert "components[1].beta" in rendered(row(pilot, "loss").query_one(".slot-error", Static))


# -- freeze phases as rows --------------------------------------------------------------------------------------


async def test_freeze_phases_are_rows(tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await pick(pilot, "freeze", "progressive")
        freeze = row(pilot, "freeze")
        phases = list(freeze.query(PhaseRow))
        assert [p.value() for p in phases] == [
            {"at_step": 0, "trainable": ["head", "aggregator"]},
            {"at_epoch": 1, "trainable": ["head", "aggregator", "backbone.-1"]},
            {"at_epoch": 2, "trainable": "all"},
        ]
        await settle(pilot)
        assert screen_of(pilot).compose_config()["freeze"] == "progressive"  # the preset's phases: its name
        await press_button(pilot, phases[2].query_one(Button))  # remove the last phase
        phases[1].query_one(Select).value = "step"
        await pilot.pause()
        await retype(pilot, phases[1].start, "100")
        await press_button(pilot, freeze.query_one(".phase-add", Button))
        added = list(freeze.query(PhaseRow))[-1]
        assert added.value() == {"at_step": 1100, "trainable": "all"}
        await settle(pilot)
        assert resolved(pilot)["freeze"]["phases"] == [
            {"at_step": 0, "trainable": ["head", "aggregator"]},
            {"at_step": 100, "trainable": ["head", "aggregator", "backbone.-1"]},
            {"at_step": 1100, "trainable": "all"},
        ]
        assert "phase 2 (+stage 0, …) starts at step 1100" in warnings_text(
            pilot
        ) or "step 1100" in warnings_text(pilot)
        await retype(pilot, added.start, "-4")
        await settle(pilot)
        assert added.start.has_class("-invalid") and added.start.path == "freeze.phases[2].at_step"


# -- the parameter table refreshes itself ------------------------------------------------------------------------


async def test_the_parameter_table_goes_stale_and_recounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[dict[str, Any]] = []

    def fake_check(config: dict[str, Any]) -> CheckResult:
        counted.append(config)
        return CheckResult(
            data={"model": {**CANNED_MODEL, "descriptor_dim": config["model"]["descriptor_dim"]}}
        )

    monkeypatch.setattr(check_runner, "run_check", fake_check)
    monkeypatch.setattr(composer_module, "PARAMS_DEBOUNCE", 0.05)
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one(ParamTable)
        body = table.query_one(".params-body", Static)
        await settle(pilot)
        assert not counted  # nothing counted until asked: a count builds the model
        app.screen.query_one("#composer-launch", Button).focus()
        await pilot.press("p")
        await wait_for(pilot, lambda: "descriptor 256-d" in rendered(body))
        assert len(counted) == 1 and not table.stale
        field(pilot, "head", "model.descriptor_dim").value = "128"
        await wait_for(pilot, lambda: table.stale)  # marked at once ...
        await wait_for(
            pilot, lambda: "descriptor 128-d" in rendered(body) and not table.stale
        )  # ... then recounted
        assert len(counted) == 2


async def test_an_unshown_table_is_only_marked_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[dict[str, Any]] = []
    monkeypatch.setattr(
        check_runner, "run_check", lambda c: counted.append(c) or CheckResult(data={"model": CANNED_MODEL})
    )
    monkeypatch.setattr(composer_module, "PARAMS_DEBOUNCE", 0.05)
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await pick(pilot, "backbone", "resnet18")
        await settle(pilot)
        assert not counted
        app.screen.query_one("#composer-tabs").active = "tab-params"  # showing the table counts it
        await wait_for(pilot, lambda: len(counted) == 1)


# -- warnings ------------------------------------------------------------------------------------------------------


async def test_warnings_show_above_the_status_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(composer_module, "visible_gpu_count", lambda: 0)
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert warnings_text(pilot) == ""
        await pick(pilot, "freeze", "frozen_backbone")
        await pick(pilot, "device", "cuda")
        await settle(pilot)
        text = warnings_text(pilot)
        assert "⚠ the backbone (plain_cnn) is frozen from step 0 but not pretrained" in text
        assert "⚠ device.name is cuda but this host shows no CUDA GPU" in text
        assert screen_of(pilot).validation.ok  # warned, never refused


def test_a_newer_check_stops_the_one_under_way(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import threading

    monkeypatch.setattr(
        check_runner, "check_command", lambda path: [sys.executable, "-c", "import time; time.sleep(60)"]
    )
    results: list[CheckResult] = []
    worker = threading.Thread(target=lambda: results.append(check_runner.run_check({"name": "x"})))
    worker.start()
    for _ in range(500):
        if check_runner._running:
            break
        threading.Event().wait(0.01)
    check_runner.cancel_checks()
    worker.join(timeout=10)
    assert results == [CheckResult(error=check_runner.CANCELLED)]
