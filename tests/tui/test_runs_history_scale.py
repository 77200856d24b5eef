"""A long history: the runs table adds rows a window at a time, yet lists, sorts, filters and reaches every run;
`ls` and find_run read run.json through the history index, which follows the folders."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.core.protocol import find_run, list_runs
from engine.core.protocol.history import INDEX_NAME, HistoryIndex
from tests.tui.fixtures import FROZEN_NOW, make_run, update_run, wait_for
from tui.app import LabConsoleApp
from tui.widgets import runs_table
from tui.widgets.runs_table import RunsTable

ROW_WINDOW = 60
"""The table's window in these tests (the real one is 200: the same code path with a third of the fixture runs)."""
COUNT = ROW_WINDOW * 2 + 5


@pytest.fixture(autouse=True)
def small_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_table, "ROW_WINDOW", ROW_WINDOW)


@pytest.fixture(scope="module")
def long_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("history") / "runs"
    for i in range(COUNT):
        make_run(
            runs,
            f"run-{i:04d}",
            score=float(i % 90),
            started=FROZEN_NOW - (COUNT - i) * 600,
            events=False,
            run_id=f"2025{i:06d}-run-{i:04d}",
        )
    return runs


async def test_table_adds_rows_as_the_cursor_goes_down_and_g_reaches_the_last(
    long_history: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(long_history)
    async with app.run_test(size=(120, 24)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: len(table.visible_ids) == COUNT)
        assert table.row_count == ROW_WINDOW  # the rest waits for the cursor
        assert table.selected is not None and table.selected.name == f"run-{COUNT - 1:04d}"
        for _ in range(ROW_WINDOW // 2 + 5):
            await pilot.press("down")
        assert table.row_count == 2 * ROW_WINDOW
        await pilot.press("G")
        await wait_for(pilot, lambda: table.selected is not None and table.selected.name == "run-0000")
        assert table.row_count == COUNT
        table.sort_by("metric")  # over every run, not the added window
        await pilot.pause()
        assert table.selected is not None and table.selected.name == "run-0000"  # the cursor keeps its run
        best = table._rows[table.visible_ids[0]]
        assert best.metric == max(r.metric or 0 for r in table.all_rows.values())
        await pilot.press("slash", *"run-0007", "enter")
        await wait_for(pilot, lambda: len(table.visible_ids) == 1)
        assert table.selected is not None and table.selected.name == "run-0007"


def test_history_index_is_used_and_follows_the_folders(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = make_run(runs, "alpha", run_id="20250101-000000-alpha")
    make_run(runs, "beta", run_id="20250102-000000-beta")
    assert [r["name"] for r in list_runs(runs)] == ["beta", "alpha"]
    assert (runs / INDEX_NAME).is_file()
    update_run(first, name="alpha-renamed")  # a new mtime and size: read again
    assert {r["name"] for r in list_runs(runs, whole=False)} == {"beta", "alpha-renamed"}
    assert find_run(runs, "alpha-renamed").run_id == first.name
    shutil.rmtree(first)
    assert [r["name"] for r in list_runs(runs)] == ["beta"]
    index = HistoryIndex(runs)
    assert index.get(first.name, (0, 0)) is None and len(index._load()) == 1  # the vanished run's row is gone


def test_a_corrupt_or_unwritable_index_never_changes_what_is_listed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs, "alpha", run_id="20250101-000000-alpha")
    (runs / INDEX_NAME).write_bytes(b"not a database" * 100)
    assert [r["name"] for r in list_runs(runs)] == ["alpha"]
    assert [r["name"] for r in list_runs(runs)] == ["alpha"]  # rebuilt on the way
    nowhere = HistoryIndex(runs, path=tmp_path / "missing-folder" / "index.sqlite")
    nowhere.put("20250101-000000-alpha", (1, 1), {"name": "alpha"})
    nowhere.save()  # cannot be written: the listing goes on from the folders
    assert nowhere.get("20250101-000000-alpha", (1, 1)) == {"name": "alpha"}


def test_listing_summary_keeps_the_headline_and_what_ls_shows(tmp_path: Path) -> None:
    run = make_run(tmp_path, "gem", run_id="20250101-000000-gem", tags=("baseline",))
    whole = json.loads((run / "run.json").read_text())
    (summary,) = list_runs(tmp_path, whole=False)
    for key in ("name", "status", "task", "tags", "progress", "started", "ended"):
        assert summary[key] == whole[key]
    split, metrics = next(iter(summary["best"].items()))
    assert split == next(iter(whole["best"])) and len(metrics) == 1
