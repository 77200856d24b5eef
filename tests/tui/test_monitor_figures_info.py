"""The monitor's `i` opens the run's figures and `I` what it ran on (provenance, checkpoints kept)."""

from __future__ import annotations

from pathlib import Path

from engine.core.protocol import EventWriter, update_run_info
from tests.tui.figure_fixtures import figure_events
from tests.tui.fixtures import make_run, wait_for
from tests.tui.test_monitor import MonitorApp, loaded
from tui.screens.image_view import ImageViewScreen
from tui.screens.monitor import MonitorScreen
from tui.screens.run_info import RunInfoScreen


async def test_i_opens_figures_and_shift_i_the_provenance(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs", "convnext-gem", "completed", steps=1000, max_steps=1000)
    with EventWriter(run / "events.jsonl") as events:
        figure_events(run, 1000, events)
    update_run_info(
        run / "run.json",
        provenance={
            "seed": 7,
            "code": {"commit": "c0ffee" * 6 + "abcd", "branch": "main", "dirty": False},
            "versions": {"python": "3.11.7", "torch": "2.14.1"},
            "host": {"name": "node7", "cpu": "Xeon", "cpus": 32},
            "command": "labconsole run demo",
        },
        checkpoints_kept=[{"step": 500, "path": "checkpoints/step_000500.pt", "bytes": 3 * 2**20}],
    )
    app = MonitorApp(run)
    async with app.run_test(size=(120, 32)) as pilot:
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        await loaded(pilot, screen)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ImageViewScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, RunInfoScreen))
        text = str(app.screen.query_one("#run-info").render())
        assert "code c0ffeec0ff (main)" in text and "seed 7 · python 3.11.7 · torch 2.14.1" in text
        assert "step 500  checkpoints/step_000500.pt  3.0 MB" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
