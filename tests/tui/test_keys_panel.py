"""`?` shows every key of the current screen beside it, and hides it again."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tests.tui.fixtures import make_run, wait_for
from tui.app import LabConsoleApp
from tui.screens.runs import RunsScreen


async def test_question_mark_toggles_the_keys_panel(tmp_path: Path) -> None:
    make_run(tmp_path / "runs", "baseline")
    app = LabConsoleApp(tmp_path / "runs")
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: bool(app.screen.query("HelpPanel")))
        table = app.screen.query_one("BindingsTable").render_bindings_table()  # type: ignore[attr-defined]
        console = Console(width=100, record=True)
        console.print(table)
        listed = console.export_text()
        assert "Compare" in listed and "Filter" in listed and "Keys" in listed  # the screen's and the app's
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: not app.screen.query("HelpPanel"))


async def test_the_palette_shows_each_commands_key(tmp_path: Path) -> None:
    make_run(tmp_path / "runs", "baseline")
    app = LabConsoleApp(tmp_path / "runs")
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Compare runs  (d)" in titles and "Filter runs  (/)" in titles
