"""`o` in the monitor: the whole output.log, followed as it grows, searched with `/`."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Log

from tests.tui.fixtures import make_run, wait_for
from tui.app import LabConsoleApp
from tui.screens.log_view import LogViewScreen
from tui.screens.monitor import MonitorScreen


def shown(screen: LogViewScreen) -> list[str]:
    return list(screen.query_one(Log).lines)


async def test_the_whole_log_followed_and_searched(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs", "live", status="running")
    lines = [f"step {i} loss 0.{i:03d}" for i in range(600)] + ["WARNING: slow data loading", "step 600"]
    (run / "output.log").write_text("\n".join(lines) + "\n")
    app = LabConsoleApp(tmp_path / "runs")
    async with app.run_test(size=(120, 32)) as pilot:
        app.open_monitor(run)
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, LogViewScreen))
        screen = app.screen
        assert isinstance(screen, LogViewScreen)
        await wait_for(pilot, lambda: len(shown(screen)) == len(lines))  # whole, not a tail
        with open(run / "output.log", "a") as log:
            log.write("step 601 WARNING again\n")
        await wait_for(pilot, lambda: shown(screen)[-1] == "step 601 WARNING again", timeout=5)  # followed
        await pilot.press("slash")
        screen.query_one("#log-search", Input).value = "warning"
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: shown(screen) == ["WARNING: slow data loading", "step 601 WARNING again"]
        )
        await pilot.press("escape")  # clears the search
        await wait_for(pilot, lambda: len(shown(screen)) == len(lines) + 1)
        await pilot.press("escape")  # leaves
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
