"""One launch surface: the launcher and the composer validate, launch and report through tui.data.launching."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, TextArea

from engine.core.errors import ConfigError, UserError
from engine.core.protocol import RunPaths
from tests.tui.fixtures import make_run, validated, wait_for
from tui.app import LabConsoleApp
from tui.data.launching import LaunchRequest, Resolved, launch, resolve
from tui.screens.composer import ComposerScreen
from tui.screens.launcher import LauncherScreen
from tui.widgets.composer_slot import FieldInput, SlotRow
from tui.widgets.launch_status import LaunchStatus

# -- resolving and launching, without a screen ------------------------------------------------------------


def test_resolve_splits_the_key_and_checks_the_schedule() -> None:
    assert resolve("demo").ok and resolve("demo").lr
    bad = resolve("demo", ["optim.lr=fast"])
    assert not bad.ok and bad.key == "optim.lr" and bad.problem.startswith("optim.lr: ")
    # resolve_config keeps an unknown warmup type; the LR curve refuses it, so neither surface launches it
    schedule = resolve("demo", ["schedule.warmup_type=nope"])
    assert schedule.key == "schedule.warmup_type" and "allowed: linear" in schedule.error
    assert resolve("no_such_preset").problem.startswith("config file not found: no_such_preset")


@pytest.mark.parametrize(
    "raised, key, error",
    [
        (ConfigError("data.root", "not a folder"), "data.root", "not a folder"),
        (UserError("data.root: holds no images"), "", "data.root: holds no images"),
        (
            OSError(2, "No such file or directory"),
            "",
            "cannot start the engine: [Errno 2] No such file or directory",
        ),
        (subprocess.TimeoutExpired(["python"], 900), "", "the engine's data check did not answer in 900 s"),
    ],
)
def test_launch_reports_what_went_wrong_in_one_line(
    raised: Exception, key: str, error: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> RunPaths:
        raise raised

    monkeypatch.setattr("engine.core.launch.launch_run", refuse)
    outcome = launch(LaunchRequest("demo"), tmp_path)
    assert outcome.run_dir is None and outcome.failure == Resolved(key=key, error=error)


# -- both surfaces, the same story --------------------------------------------------------------------------


@dataclass(frozen=True)
class Surface:
    """How a test drives one launch surface from the runs screen."""

    open_key: str
    launch_key: str
    screen: type[Screen[Any]]
    set_lr: Callable[[Screen[Any], str], None]
    """Make the config's optim.lr read the given text."""
    lr_marked: Callable[[Screen[Any]], bool]
    """Whether the screen marks optim.lr inline (the editor line, the optim row)."""
    lr_widget: Callable[[Screen[Any]], Widget]
    """Where optim.lr is typed (focused when a launch is refused for it)."""


def launcher_lr(screen: Screen[Any], text: str) -> None:
    screen.query_one(TextArea).text = f"optim.lr={text}"
    screen.query_one("#launcher-name", Input).value = "surface-run"


def composer_lr_field(screen: Screen[Any]) -> FieldInput:
    return next(f for f in screen.query_one("#row-optim", SlotRow).query(FieldInput) if f.key == "lr")


def composer_lr(screen: Screen[Any], text: str) -> None:
    composer_lr_field(screen).value = text


SURFACES = {
    "launcher": Surface(
        "n",
        "ctrl+l",
        LauncherScreen,
        launcher_lr,
        lambda s: s.query_one(TextArea).has_class("-invalid"),
        lambda s: s.query_one(TextArea),
    ),
    "composer": Surface(
        "c",
        "ctrl+l",
        ComposerScreen,
        composer_lr,
        lambda s: s.query_one("#row-optim", SlotRow).has_class("-error"),
        composer_lr_field,
    ),
}


class FakeMonitor(Screen[None]):
    """Stands in for the monitor the app opens on the launched run."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir


def status_line(app: LabConsoleApp) -> str:
    return str(app.screen.query_one(LaunchStatus).render())


@pytest.mark.parametrize("which", list(SURFACES))
async def test_refuse_report_then_launch(
    which: str, runs_dir: Path, make_app: Callable[..., LabConsoleApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invalid: refused before the engine; the engine's keyed error inline, then its data error; then launched."""
    surface = SURFACES[which]
    answers: list[Exception | None] = [
        ConfigError("optim.lr", "too large for this optimizer"),
        UserError("data.root: not a folder (folder not found)"),
        None,
    ]
    launched: list[Any] = []

    def fake_launch(
        config: Any,
        overrides: Any = (),
        runs_dir: Path | None = None,
        name: str | None = None,
        argv: Any = None,
    ) -> RunPaths:
        launched.append(config)
        answer = answers.pop(0)
        if answer is not None:
            raise answer
        assert runs_dir is not None
        return RunPaths(make_run(runs_dir, name or "demo", "queued", started=1_760_000_000.0 - 1))

    monkeypatch.setattr("engine.core.launch.launch_run", fake_launch)
    monkeypatch.setattr("tui.app.monitor_screen_class", lambda: FakeMonitor)
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press(surface.open_key)
        await wait_for(pilot, lambda: isinstance(app.screen, surface.screen))
        screen = app.screen
        surface.set_lr(screen, "fast")
        await pilot.press(surface.launch_key)
        await wait_for(
            pilot, lambda: any("fix optim.lr before launching" in n.message for n in app._notifications)
        )
        assert launched == [] and surface.lr_marked(screen) and "optim.lr: expected" in status_line(app)
        assert app.focused is surface.lr_widget(screen)  # below the fold in the composer: brought into view

        surface.set_lr(screen, "1e-3")
        await validated(pilot)
        assert status_line(app).startswith("✓ ") and not surface.lr_marked(screen)
        await launch_and_wait(pilot, surface, "✗ optim.lr: too large for this optimizer")
        assert surface.lr_marked(screen)

        await launch_and_wait(pilot, surface, "✗ data.root: not a folder (folder not found)")
        assert not surface.lr_marked(screen) and app.screen is screen
        toasts = [(n.title, n.message) for n in app._notifications]
        assert ("Not launched", "data.root: not a folder (folder not found)") in toasts

        await pilot.press(surface.launch_key)
        await wait_for(pilot, lambda: isinstance(app.screen, FakeMonitor))
        assert len(launched) == 3 and app.screen.run_dir.parent == runs_dir


async def launch_and_wait(pilot: Pilot[Any], surface: Surface, shown: str) -> None:
    """Launch and wait for the engine's refusal to be shown."""
    await pilot.press(surface.launch_key)
    await wait_for(
        pilot,
        lambda: status_line(pilot.app) == shown,  # type: ignore[arg-type]
        describe=lambda: status_line(pilot.app),
    )  # type: ignore[arg-type]
