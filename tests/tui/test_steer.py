"""Pilot tests of the steering dialog: it writes a `set` control line and shows the engine's answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from engine.core.errors import UserError
from engine.core.protocol import EventWriter
from tests.tui.fixtures import make_run, update_run, wait_for
from tui.app import LabConsoleApp
from tui.screens.monitor import MonitorScreen
from tui.screens.steer import SteerDialog, parse_values, settable_keys


@pytest.fixture
def live_run(tmp_path: Path) -> Path:
    """A running run (its engine looks alive on another host)."""
    run = make_run(tmp_path / "runs", "live", status="running", loss="ce+lovasz", max_steps=1000)
    update_run(run, settable=PUBLISHED)
    return run


PUBLISHED = [
    "optim.lr",
    "optim.lr_scale",
    "train.max_steps",
    "loss.weight.ce",
    "freeze.<group>=on|off|schedule",
]
"""What an engine with a ce+lovasz mix publishes in run.json (`settable`)."""


def answer(dialog: SteerDialog) -> str:
    """The dialog's answer line as plain text."""
    return str(dialog.query_one("#steer-answer", Static).render())


def commands(run_dir: Path) -> list[dict[str, Any]]:
    """The lines of control.jsonl."""
    path = run_dir / "control.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def engine_answers(run_dir: Path, step: int, status: str, **fields: Any) -> None:
    """Play the engine: answer the last command with a control event."""
    command = commands(run_dir)[-1]
    with EventWriter(run_dir / "events.jsonl") as events:
        events.emit(
            "control",
            step=step,
            id=command["id"],
            action=command["action"],
            status=status,
            values=command["values"],
            **fields,
        )


async def open_dialog(
    pilot: Pilot[Any], run_dir: Path, live: bool = True, timeout: float = 10.0
) -> SteerDialog:
    """Push the dialog and wait for it."""
    dialog = SteerDialog(run_dir, live=live, answer_timeout=timeout)
    await pilot.app.push_screen(dialog)
    await pilot.pause()
    return dialog


async def submit(pilot: Pilot[Any], text: str) -> None:
    """Type `text` into the dialog and press enter."""
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


def test_parse_values_and_settable_keys() -> None:
    assert parse_values("optim.lr=1e-4 schedule.power=1.2 loss.weight.cosface=0.5") == {
        "optim.lr": 1e-4,
        "schedule.power": 1.2,
        "loss.weight.cosface": 0.5,
    }
    with pytest.raises(UserError, match="expected dotted.key=value"):
        parse_values("optim.lr")
    assert settable_keys({"settable": PUBLISHED}) == PUBLISHED
    assert settable_keys({}) == []  # the engine has not started: nothing is guessed


async def test_set_is_sent_and_applied_answer_shown(
    live_run: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(live_run.parent)
    async with app.run_test(size=(120, 32)) as pilot:
        dialog = await open_dialog(pilot, live_run)
        assert "loss.weight.ce" in str(dialog.query_one("#steer-hints", Static).render())
        await submit(pilot, "optim.lr=1e-4 schedule.warmup_steps=50")
        await wait_for(pilot, lambda: len(commands(live_run)) == 1)
        command = commands(live_run)[0]
        assert command["action"] == "set" and command["values"] == {
            "optim.lr": 1e-4,
            "schedule.warmup_steps": 50,
        }
        assert dialog.pending == command["id"] and "waiting" in answer(dialog)
        engine_answers(live_run, 321, "applied")
        await wait_for(pilot, lambda: "applied" in answer(dialog))
        assert answer(dialog) == "applied at step 321: optim.lr=0.0001 schedule.warmup_steps=50"
        # App.notify posts a message: the notification lands a moment after the dialog's answer
        await wait_for(pilot, lambda: any("applied at step 321" in n.message for n in app._notifications))


async def test_rejected_answer_shows_the_reason(
    live_run: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(live_run.parent)
    async with app.run_test(size=(120, 32)) as pilot:
        dialog = await open_dialog(pilot, live_run)
        await submit(pilot, "optim.momentum=0.9")
        await wait_for(pilot, lambda: len(commands(live_run)) == 1)
        engine_answers(live_run, 400, "rejected", reason="cannot set optim.momentum; settable: optim.lr")
        await wait_for(pilot, lambda: "rejected" in answer(dialog))
        assert answer(dialog) == "rejected: cannot set optim.momentum; settable: optim.lr"


async def test_bad_input_is_not_sent(live_run: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(live_run.parent)
    async with app.run_test(size=(120, 32)) as pilot:
        dialog = await open_dialog(pilot, live_run)
        await submit(pilot, "optim.lr")
        await pilot.pause()
        assert "expected dotted.key=value" in answer(dialog) and commands(live_run) == []


async def test_no_answer_times_out(live_run: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(live_run.parent)
    async with app.run_test(size=(120, 32)) as pilot:
        dialog = await open_dialog(pilot, live_run, timeout=0.3)
        await submit(pilot, "optim.lr=1e-4")
        await wait_for(pilot, lambda: "no answer" in answer(dialog))


async def test_monitor_l_opens_the_dialog_only_for_live_runs(
    tmp_path: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    live = make_run(tmp_path / "runs", "live", status="running")
    done = make_run(tmp_path / "runs", "done", status="completed")
    app = make_app(tmp_path / "runs")
    async with app.run_test(size=(120, 32)) as pilot:
        for run_dir, opens in ((live, True), (done, False)):
            monitor = MonitorScreen(run_dir)
            await app.push_screen(monitor)
            await wait_for(pilot, lambda m=monitor: m.snapshot is not None and m.snapshot.events_read)
            await pilot.press("l")
            await pilot.pause()
            assert isinstance(app.screen, SteerDialog) is opens
            if opens:
                assert not app.screen.query_one(Input).disabled
                await pilot.press("escape")
            await pilot.press("escape")
        dialog = await open_dialog(pilot, done, live=False)
        assert dialog.query_one(Input).disabled and "completed" in answer(dialog)
