"""`R` on the runs screen reruns the selected run exactly, after naming what changed since it ran; `i` opens its figures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.core.protocol import EventWriter, read_json, update_run_info
from engine.core.provenance import collect_provenance
from tests.tui.fixtures import make_run, wait_for
from tui.app import LabConsoleApp
from tui.data import launching
from tui.screens.confirm_rerun import ConfirmRerun
from tui.screens.runs import RunsScreen
from tui.widgets.runs_table import RunsTable


def _confirm_text(app: LabConsoleApp) -> str:
    return str(app.screen.query_one("Static").render())


async def test_rerun_names_changes_and_cancel_launches_nothing(
    tmp_path: Path, make_app: Callable[..., LabConsoleApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(tmp_path / "runs", "gem-base", run_id="20251009-085320-gem-base")
    now = collect_provenance({}, None, [])
    update_run_info(run / "run.json", provenance={**now, "versions": {**now["versions"], "numpy": "0.0.1"}})
    launched: list[launching.LaunchRequest] = []
    monkeypatch.setattr(launching, "launch", lambda request, runs_dir: launched.append(request))
    app = make_app(tmp_path / "runs")
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(RunsTable).selected is not None)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRerun))
        text = _confirm_text(app)
        assert "Rerun gem-base as gem-base-2?" in text and f"numpy 0.0.1 → {now['versions']['numpy']}" in text
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
    assert launched == []


async def test_rerun_confirmed_launches_the_stored_config_and_opens_its_monitor(
    tmp_path: Path, make_app: Callable[..., LabConsoleApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    source = make_run(runs, "gem-base", run_id="20251009-085320-gem-base")
    target = make_run(runs, "gem-base-2", status="queued", run_id="20251010-085320-gem-base-2")
    requests: list[launching.LaunchRequest] = []

    def fake_launch(request: launching.LaunchRequest, runs_dir: Path) -> launching.LaunchOutcome:
        requests.append(request)
        return launching.LaunchOutcome(run_dir=target)

    monkeypatch.setattr(launching, "launch", fake_launch)
    app = make_app(runs)
    async with app.run_test(size=(120, 32)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: len(table.all_rows) == 2)
        table.move_cursor(row=table.visible_ids.index(source.name))
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRerun))
        assert "recorded no provenance" in _confirm_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MonitorScreen")
    assert requests[0].source == str(source / "config.yaml") and requests[0].name == "gem-base-3"
    assert requests[0].argv == ("labconsole", "run", str(source / "config.yaml"), "--name", "gem-base-3")
    assert read_json(target / "run.json")["rerun_of"] == source.name


async def test_i_opens_the_selected_runs_figures(
    tmp_path: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    from tests.tui.figure_fixtures import figure_events
    from tui.screens.image_view import ImageViewScreen

    run = make_run(tmp_path / "runs", "gem-base", run_id="20251009-085320-gem-base")
    with EventWriter(run / "events.jsonl") as events:
        figure_events(run, 1000, events)
    app = make_app(tmp_path / "runs")
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(RunsTable).selected is not None)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ImageViewScreen))
        assert app.screen.run_dir == run
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
