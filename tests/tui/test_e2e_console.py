"""End to end: launch a tiny real run from the console, watch its monitor open, and see it complete."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from tests.tui.fixtures import wait_for
from tui.app import LabConsoleApp
from tui.screens.runs import RunsScreen
from tui.widgets.runs_table import RunsTable

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the engine needs torch"),
]


async def test_launch_tiny_run_from_console_and_see_it_complete(tmp_path: Path) -> None:
    from engine.core.config import list_presets

    if "demo" not in list_presets("runs"):
        pytest.skip("no demo run preset")
    runs = tmp_path / "runs"
    app = LabConsoleApp(runs, refresh_interval=0.5)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "LauncherScreen", timeout=20)
        await pilot.press("tab", *"train.max_steps=3", "enter", *"train.eval_at_start=false", "tab", *"e2e-console")
        await pilot.pause(0.5)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MonitorScreen", timeout=60)
        monitor_dir = getattr(app.screen, "run_dir", None)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), timeout=20)
        table = app.screen.query_one(RunsTable)
        deadline = time.monotonic() + 600  # a 3-step CPU run; minutes only on a crowded machine
        while time.monotonic() < deadline:
            rows = list(table.all_rows.values())
            if rows and rows[0].status not in ("queued", "running"):
                break
            await pilot.pause(0.5)
        (row,) = table.all_rows.values()
        log = (row.dir / "output.log").read_text(errors="replace")[-2000:]
        assert row.status == "completed", log
        assert row.name == "e2e-console" and row.step == 3 and row.metric is not None
        assert monitor_dir is None or Path(monitor_dir) == row.dir
