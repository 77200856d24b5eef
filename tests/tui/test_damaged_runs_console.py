"""The console survives damaged runs and markup in user text: the runs screen lists a damaged run as damaged with
the reason; names, tags and errors with rich markup in them show as written, in every screen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui.fixtures import FROZEN_NOW, HOUR, make_run, update_run, wait_for
from tui.app import LabConsoleApp
from tui.data.run_index import RunIndex
from tui.screens.compare import CompareScreen
from tui.screens.monitor import MonitorScreen
from tui.screens.runs import RunsScreen
from tui.widgets.run_summary import RunSummary
from tui.widgets.runs_table import RunsTable

MARKUP_NAMES = ("exp[/]", "resnet[ablation]", "[bold red]loud")


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    make_run(folder, "good", run_id="20251009-010000-good")
    update_run(make_run(folder, "bad-status", run_id="20251009-020000-bad-status"), status=42)
    update_run(make_run(folder, "bad-progress", run_id="20251009-030000-bad-progress"), progress="x", best=[])
    (make_run(folder, "not-json", run_id="20251009-040000-not-json") / "run.json").write_text("{oops")
    for i, name in enumerate(MARKUP_NAMES):
        run = make_run(folder, f"markup-{i}", run_id=f"20251009-05000{i}-markup-{i}", status="failed")
        update_run(run, name=name, tags=["[red]tag", "a[/]"], error="boom [/] [bold]x")
    return folder


def text_of(widget: Any) -> str:
    return str(widget.render())


def table(app: LabConsoleApp) -> RunsTable:
    return next(s for s in app.screen_stack if isinstance(s, RunsScreen)).query_one(RunsTable)


def test_the_index_lists_damaged_runs_with_the_reason(runs: Path, tmp_path: Path) -> None:
    from tui.data.summary_cache import SummaryCache

    rows = RunIndex(runs, SummaryCache(tmp_path / "cache.json")).refresh().rows
    assert len(rows) == 3 + 1 + len(MARKUP_NAMES)
    assert rows["20251009-020000-bad-status"].status == "damaged"
    assert "status is 42, expected text" in rows["20251009-020000-bad-status"].damage
    assert rows["20251009-030000-bad-progress"].step is None
    assert rows["20251009-040000-not-json"].damage.startswith("run.json is damaged: not JSON")
    assert rows["20251009-010000-good"].status == "completed" and not rows["20251009-010000-good"].damage


def test_a_killed_runs_duration_stops_at_its_last_event(tmp_path: Path) -> None:
    from tui.data.summary_cache import SummaryCache

    folder = make_run(tmp_path / "runs", "killed", "running", alive=False, duration=HOUR)
    (row,) = RunIndex(tmp_path / "runs", SummaryCache(tmp_path / "cache.json")).refresh().rows.values()
    assert row.status == "interrupted"
    assert row.duration(FROZEN_NOW + 100 * HOUR) == pytest.approx(HOUR, abs=60)
    assert folder.name == row.id


async def test_runs_screen_shows_damaged_and_markup_runs(
    runs: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(runs)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: len(table(app).all_rows) == 7)
        t = table(app)
        status = t.get_row("20251009-020000-bad-status")[0]
        assert "damaged" in str(status)
        t.move_cursor(row=t.visible_ids.index("20251009-020000-bad-status"))
        await pilot.pause()
        summary = app.screen.query_one(RunSummary)
        await wait_for(pilot, lambda: "status is 42" in text_of(summary))
        for i, name in enumerate(MARKUP_NAMES):
            run_id = f"20251009-05000{i}-markup-{i}"
            assert t.get_row(run_id)[1].plain.startswith(name)
            t.move_cursor(row=t.visible_ids.index(run_id))
            await pilot.pause()
            await wait_for(pilot, lambda name=name: name in text_of(summary))  # type: ignore[misc]
            assert "#[red]tag" in text_of(summary) and "boom [/] [bold]x" in text_of(summary)


@pytest.mark.parametrize("run_id", ["20251009-050000-markup-0", "20251009-020000-bad-status"])
async def test_monitor_opens_on_a_markup_or_damaged_run(
    runs: Path, run_id: str, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(runs)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: len(table(app).all_rows) == 7)
        t = table(app)
        t.move_cursor(row=t.visible_ids.index(run_id))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        await pilot.pause(0.3)
        title = text_of(app.screen.query_one("#header-title"))
        if run_id.endswith("markup-0"):
            await wait_for(pilot, lambda: "exp[/]" in text_of(app.screen.query_one("#header-title")))
        assert title is not None


async def test_compare_shows_markup_names(runs: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(runs)
    dirs = [
        runs / "20251009-050000-markup-0",
        runs / "20251009-050001-markup-1",
        runs / "20251009-020000-bad-status",
    ]
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: len(table(app).all_rows) == 7)
        app.open_compare(dirs)
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.runs))
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        await pilot.pause(0.2)
        assert "exp[/]" in text_of(screen.query_one("#cmp-title"))
        for _ in dirs:  # each next baseline's name in a notification, back to "exp[/]"
            await pilot.press("b")
            await pilot.pause(0.1)
        assert "exp[/]" in text_of(screen.query_one("#cmp-title"))
        assert [n.message for n in app._notifications][-1] == "exp[/]"
        await pilot.pause(0.3)  # the toasts render
        assert isinstance(app.screen, CompareScreen)
