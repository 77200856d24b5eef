"""The runs screen: `a` archives (is:archived shows them, `a` there restores), delete/x moves to the trash after asking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.tui.fixtures import make_run, wait_for
from tui.app import LabConsoleApp
from tui.screens.confirm_delete import ConfirmDelete
from tui.widgets.runs_table import RunsTable


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    make_run(folder, "keep", run_id="20250101-000000-keep")
    make_run(folder, "old", run_id="20250102-000000-old")
    make_run(folder, "live", status="running", run_id="20250103-000000-live")
    return folder


async def test_console_archives_with_a_and_deletes_with_confirmation(
    runs: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(runs)
    async with app.run_test(size=(120, 32)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: len(table.visible_ids) == 3)
        table.move_cursor(row=table.visible_ids.index("20250102-000000-old"))
        await pilot.press("a")
        await wait_for(pilot, lambda: "20250102-000000-old" not in table.visible_ids)
        await pilot.press("slash", *"is:archived", "enter")
        await wait_for(pilot, lambda: table.visible_ids == ["20250102-000000-old"])
        await pilot.press("a")  # restores it: it leaves the archived view
        await wait_for(pilot, lambda: table.visible_ids == [])
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(table.visible_ids) == 3)
        table.move_cursor(row=table.visible_ids.index("20250101-000000-keep"))
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDelete))
        assert (runs / "20250101-000000-keep").is_dir()
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDelete))
        await pilot.press("y")
        await wait_for(pilot, lambda: "20250101-000000-keep" not in table.visible_ids)
    assert (runs / ".trash" / "20250101-000000-keep" / "run.json").is_file()
