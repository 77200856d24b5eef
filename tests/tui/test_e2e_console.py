"""End to end: launch a tiny real run from the console, watch its monitor open, and see it complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.fixtures import validated, wait_for
from tui.app import LabConsoleApp
from tui.screens.launcher import LauncherScreen
from tui.screens.monitor import MonitorScreen
from tui.screens.runs import RunsScreen
from tui.widgets.runs_table import RunsTable

pytestmark = pytest.mark.slow


async def test_launch_tiny_run_from_console_and_see_it_complete(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    app = LabConsoleApp(runs, refresh_interval=0.5)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LauncherScreen), timeout=20)
        await pilot.press(
            "tab", *"train.max_steps=3", "enter", *"train.eval_at_start=false", "tab", *"e2e-console"
        )
        await validated(pilot)
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), timeout=60)
        monitor_dir = app.screen.run_dir
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), timeout=20)
        table = app.screen.query_one(RunsTable)

        def finished() -> bool:
            rows = list(table.all_rows.values())
            return bool(rows) and rows[0].status not in ("queued", "running")

        def log() -> str:
            return "\n".join(path.read_text(errors="replace")[-2000:] for path in runs.glob("*/output.log"))

        await wait_for(
            pilot, finished, timeout=600, describe=log
        )  # a 3-step CPU run; minutes only on a crowded machine
        (row,) = table.all_rows.values()
        assert row.status == "completed", log()
        assert row.name == "e2e-console" and row.step == 3 and row.metric is not None
        assert monitor_dir == row.dir
