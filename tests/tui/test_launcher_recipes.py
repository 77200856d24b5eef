"""The launcher lists the recipes in a group of their own after the run presets (each with its log, small and
@real versions), validates them like presets, and opens one in the composer (ctrl+o)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import OptionList, Static

from engine.core.config import resolve_config
from engine.core.config.recipes import list_recipes, load_recipe
from tests.tui.fixtures import validated, wait_for
from tui.app import LabConsoleApp
from tui.data.composer_config import load_base
from tui.screens.launcher import LauncherScreen

VPR = "vpr_model_selection"


def text_of(app: Any, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def pick(pilot: Any, option_id: str) -> None:
    """Highlight the option `option_id` and wait for its validation."""
    options = pilot.app.screen.query_one("#launcher-presets", OptionList)
    options.highlighted = options.get_option_index(option_id)
    await validated(pilot)


def recording_app(runs: Path) -> tuple[LabConsoleApp, list[Path | None]]:
    """The console, its composer replaced by a record of the configs it was asked to open (the composer's own
    tests drive it; mounting it here would only cost seconds)."""
    app = LabConsoleApp(runs, refresh_interval=0.05)
    opened: list[Path | None] = []
    app.open_composer = opened.append  # type: ignore[method-assign]
    return app, opened


async def test_launcher_lists_recipes_after_the_presets_and_composes_one(tmp_path: Path) -> None:
    app, opened = recording_app(tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen))
        options = app.screen.query_one("#launcher-presets", OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        heading = prompts.index("Recipes (experiment logs)")
        assert options.get_option_at_index(heading).disabled
        assert ids.index("demo") < heading < min(ids.index(name) for name in list_recipes())
        assert {*list_recipes(), f"{VPR}@real"} <= set(ids)
        assert "log 000" in str(options.get_option_at_index(ids.index(VPR)).prompt)

        await pick(pilot, VPR)
        assert "Log 000 baseline" in text_of(app, "#launcher-description")
        assert text_of(app, "#launcher-status").startswith("✓ vpr · plain_cnn · gem")

        await pick(pilot, f"{VPR}@real")
        assert "needs GSV-Cities" in text_of(app, "#launcher-description")
        status = text_of(app, "#launcher-status")
        assert status.startswith("✗") and "GSV-Cities" in status

        await pick(pilot, VPR)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: opened == [load_recipe(VPR).path])
        assert not isinstance(app.screen, LauncherScreen)


async def test_the_real_version_opens_in_the_composer_with_its_overrides(tmp_path: Path) -> None:
    app, opened = recording_app(tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen))
        await pick(pilot, f"{VPR}@real")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: len(opened) == 1)
    (base,) = opened
    assert base is not None and base.name == f"{VPR}@real.yaml"
    raw, problem = load_base(base)  # what the composer reads
    assert not problem and raw["name"] == f"{VPR}-real" and "recipe" not in raw and "log:000" in raw["tags"]
    assert raw["model"]["backbone"] == {"preset": "resnet50", "pretrained": True}
    assert resolve_config(raw, ["data.root=/data/gsv"], check_paths=False)["data"]["format"] == "gsv_cities"
