"""Notes in the console: `N` on the runs screen adds one to the selected run; the summary shows the latest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input

from tests.tui.fixtures import make_run, wait_for
from tui.app import LabConsoleApp
from tui.data.run_notes import add_note
from tui.screens.runs import RunsScreen
from tui.screens.text_prompt import TextPromptScreen
from tui.widgets.run_summary import RunSummary
from tui.widgets.runs_table import RunsTable


def summary_text(app: LabConsoleApp) -> str:
    return str(app.screen.query_one(RunSummary).render())


async def test_n_adds_a_note_the_summary_shows_as_typed(
    tmp_path: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    run_dir = make_run(tmp_path / "runs", "gem-base", run_id="20251009-085320-gem-base")
    add_note(run_dir, "an older note")
    app = make_app(tmp_path / "runs")
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: "an older note" in summary_text(app))
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        field = app.screen.query_one("#prompt-text", Input)
        await pilot.press("enter")  # a blank note is not added
        assert isinstance(app.screen, TextPromptScreen)
        field.value = "[red]lr[/] too  high"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await wait_for(pilot, lambda: "✎ [red]lr[/] too high" in summary_text(app))  # markup shown as typed
        notes = json.loads((run_dir / "run.json").read_text())["notes"]
        assert [n["text"] for n in notes] == ["an older note", "[red]lr[/] too  high"]
        assert app.screen.query_one(RunsTable).selected is not None


async def test_escape_adds_no_note(tmp_path: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    run_dir = make_run(tmp_path / "runs", "gem-base", run_id="20251009-085320-gem-base")
    app = make_app(tmp_path / "runs")
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(RunsTable).selected is not None)
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        app.screen.query_one("#prompt-text", Input).value = "never mind"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert "notes" not in json.loads((run_dir / "run.json").read_text())
        assert "✎" not in summary_text(app)
