"""Launch surfaces that are fast to drive (issue 12 §4): Esc never drops a draft unasked, ctrl+s saves a user
preset on both, saved presets join the catalogue, composed and cloned runs record how to repeat them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static, TextArea

from engine.core.config import presets as presets_module
from engine.core.config import resolve_config
from engine.core.config.presets import list_presets, load_preset, save_user_preset
from engine.core.errors import UserError
from tests.tui.fixtures import make_run, wait_for
from tests.tui.test_composer import field, settle
from tui.data.launching import fresh_run_name
from tui.screens.composer import ComposerScreen
from tui.screens.confirm_discard import ConfirmDiscard
from tui.screens.launcher import LauncherScreen
from tui.screens.save_preset import SavePresetScreen


class HostApp(App[None]):
    """Opens a launch surface the way the console does, and again on demand (closing and reopening it)."""

    def __init__(self, make_screen: Any) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.results: list[Path | None] = []

    def on_mount(self) -> None:
        self.reopen()

    def reopen(self) -> None:
        self.push_screen(self.make_screen(), self.results.append)


async def closed(pilot: Any, app: HostApp, count: int) -> None:
    await wait_for(pilot, lambda: len(app.results) == count)


async def answer(pilot: Any, key: str) -> None:
    """Esc, then answer the leave dialog with `key`."""
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDiscard))
    await pilot.press(key)
    await pilot.pause()


# -- Esc asks; the draft survives reopening ------------------------------------------------------------------


async def test_composer_esc_asks_and_the_draft_survives_reopening(tmp_path: Path) -> None:
    app = HostApp(lambda: ComposerScreen(tmp_path / "runs"))
    async with app.run_test(size=(120, 32)) as pilot:
        await settle(pilot)
        await pilot.press("escape")  # nothing changed: leaves at once
        await closed(pilot, app, 1)

        app.reopen()
        await wait_for(pilot, lambda: isinstance(app.screen, ComposerScreen))
        await settle(pilot)
        field(pilot, "optim", "lr").value = "0.0042"
        await settle(pilot)
        await answer(pilot, "k")  # keep editing
        assert isinstance(app.screen, ComposerScreen) and app.results == [None]
        await answer(pilot, "l")  # leave, keep the draft
        await closed(pilot, app, 2)

        app.reopen()
        await wait_for(pilot, lambda: isinstance(app.screen, ComposerScreen))
        await settle(pilot)
        assert field(pilot, "optim", "lr").value == "0.0042"
        await answer(pilot, "d")  # the restored draft still counts as changes: asked, then discarded
        await closed(pilot, app, 3)

        app.reopen()
        await wait_for(pilot, lambda: isinstance(app.screen, ComposerScreen))
        await settle(pilot)
        assert field(pilot, "optim", "lr").value != "0.0042"


async def test_launcher_esc_asks_and_the_draft_survives_reopening(tmp_path: Path) -> None:
    app = HostApp(lambda: LauncherScreen(tmp_path / "runs"))
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen))
        screen = app.screen
        screen.query_one(TextArea).text = "optim.lr=1e-4"
        screen.query_one("#launcher-name", Input).value = "my-run"
        await answer(pilot, "escape")  # escape in the dialog keeps editing
        assert app.screen is screen
        await answer(pilot, "l")
        await closed(pilot, app, 1)

        app.reopen()
        await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen))
        await pilot.pause()
        assert app.screen.query_one(TextArea).text == "optim.lr=1e-4"
        assert app.screen.query_one("#launcher-name", Input).value == "my-run"
        await answer(pilot, "d")
        await closed(pilot, app, 2)

        app.reopen()
        await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen))
        await pilot.pause()
        assert app.screen.query_one(TextArea).text == ""
        await pilot.press("escape")  # nothing typed: leaves at once
        await closed(pilot, app, 3)


# -- ctrl+s: one meaning --------------------------------------------------------------------------------------


def ctrl_s(screen: type[Screen[Any]]) -> tuple[str, str]:
    binding = next(b for b in screen.BINDINGS if isinstance(b, Binding) and b.key == "ctrl+s")
    return binding.action, binding.description


def test_ctrl_s_saves_a_preset_on_both_surfaces() -> None:
    assert ctrl_s(ComposerScreen) == ctrl_s(LauncherScreen) == ("save", "Save preset")


async def test_launcher_ctrl_s_saves_a_user_preset_and_refuses_a_shipped_name(
    tmp_path: Path, private_user_presets: Path
) -> None:
    app = HostApp(lambda: LauncherScreen(tmp_path / "runs"))
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen))
        app.screen.query_one(TextArea).text = "optim.lr=1e-4"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SavePresetScreen))
        app.screen.query_one(Input).value = "demo"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SavePresetScreen)  # a shipped preset's name is refused
        assert "shipped preset" in str(app.screen.query_one("#save-note", Static).content)
        app.screen.query_one(Input).value = "demo_fast"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen))
        saved = private_user_presets / "runs" / "demo_fast.yaml"
        assert resolve_config("demo_fast")["optim"]["lr"] == 1e-4 and saved.is_file()
        await pilot.press("escape")  # saved: nothing to lose
        await closed(pilot, app, 1)


# -- user presets in the catalogue ---------------------------------------------------------------------------


def test_user_presets_join_the_catalogue_and_never_replace_a_shipped_one(private_user_presets: Path) -> None:
    path = save_user_preset("optim", "my_adam", {"name": "adamw", "lr": 3e-4, "description": "mine"})
    assert path == private_user_presets / "optim" / "my_adam.yaml"
    assert "my_adam" in list_presets("optim") and "adamw" in list_presets("optim")
    assert load_preset("optim", "my_adam", "optim")["lr"] == 3e-4
    shipped = presets_module.PRESETS_DIR / "runs" / "demo.yaml"
    before = shipped.read_bytes()
    with pytest.raises(UserError, match="'demo' is a shipped runs preset"):
        save_user_preset("runs", "demo", {"name": "demo"})
    assert shipped.read_bytes() == before and not (private_user_presets / "runs" / "demo.yaml").exists()


def test_the_user_folder_follows_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABCONSOLE_USER_PRESETS")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert presets_module.user_presets_dir() == tmp_path / "xdg" / "labconsole" / "presets"


# -- what a composed or cloned run records --------------------------------------------------------------------


def fake_launcher(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    class Paths:
        root = tmp_path / "runs" / "run-1"

    def fake_launch(config: Any, overrides: Any, runs_dir: Any, name: Any, argv: Any = None) -> Any:
        calls.append({"config": config, "name": name, "argv": list(argv)})
        return Paths()

    monkeypatch.setattr("engine.core.launch.launch_run", fake_launch)
    return calls


async def test_a_composed_run_records_a_command_that_repeats_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_launcher(monkeypatch, tmp_path)
    app = HostApp(lambda: ComposerScreen(tmp_path / "runs"))
    async with app.run_test(size=(120, 32)) as pilot:
        await settle(pilot)
        field(pilot, "optim", "lr").value = "0.0042"
        await settle(pilot)
        composed = app.screen.compose_config()
        await pilot.press("ctrl+l")
        await closed(pilot, app, 1)
    program, command, config = calls[0]["argv"]
    assert (program, command) == ("labconsole", "run")
    assert resolve_config(config) == resolve_config(composed)


async def test_a_run_saved_as_a_preset_records_the_preset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_launcher(monkeypatch, tmp_path)
    app = HostApp(lambda: ComposerScreen(tmp_path / "runs"))
    async with app.run_test(size=(120, 32)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SavePresetScreen))
        app.screen.query_one(Input).value = "mine"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposerScreen))
        await settle(pilot)
        await pilot.press("ctrl+l")
        await closed(pilot, app, 1)
    assert calls[0]["argv"] == ["labconsole", "run", "mine", "name=demo"]


@pytest.mark.parametrize(
    "name, taken, fresh",
    [("demo", set(), "demo-2"), ("demo", {"demo-2"}, "demo-3"), ("demo-2", {"demo-2"}, "demo-3")],
)
def test_fresh_run_name(name: str, taken: set[str], fresh: str) -> None:
    assert fresh_run_name(name, taken) == fresh


async def test_a_clone_gets_a_fresh_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    source = make_run(runs, "demo", "completed", started=1_760_000_000.0 - 100)
    make_run(runs, "demo-2", "completed", started=1_760_000_000.0 - 50)
    assert yaml.safe_load((source / "config.yaml").read_text())["name"] == "demo"
    calls = fake_launcher(monkeypatch, tmp_path)
    app = HostApp(lambda: ComposerScreen(runs, source / "config.yaml"))
    async with app.run_test(size=(120, 32)) as pilot:
        await settle(pilot)
        assert field(pilot, "run", "name").value == "demo-3"
        await pilot.press("escape")  # the fresh name is not an edit: leaves at once
        await closed(pilot, app, 1)
    assert calls == []
