"""Numeric comparisons in the runs filter (`R@1>80`, `mIoU>=45.5`, `step<1000`) and the empty-result note."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.tui.fixtures import make_run, wait_for
from tui.app import LabConsoleApp
from tui.data.run_filter import Comparison, RunFilter, terms_matching_nothing
from tui.data.run_index import RunRow
from tui.screens.runs import RunsScreen
from tui.widgets.runs_table import RunsTable


def vpr_row(name: str, r1: float | None, step: int = 1000, tags: tuple[str, ...] = ()) -> RunRow:
    """A VPR run row whose first test set has R@1 = `r1` (no evaluation when None)."""
    best = {} if r1 is None else {"pitts30k": {"R@1": r1, "R@5": r1 + 5}, "tokyo247": {"R@1": 99.0}}
    return RunRow(
        id=name, dir=Path(name), name=name, status="completed", task="vpr", step=step, tags=tags,
        metric_name="R@1" if r1 is not None else "", metric=r1, best=best,
    )  # fmt: skip


ROWS = [
    vpr_row("low", 70.0, step=500),
    vpr_row("high", 85.0, tags=("baseline",)),
    vpr_row("exact", 80.0, step=2000),
    vpr_row("untrained", None, step=0),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R@1>80", {"high"}),
        ("r@1>=80", {"high", "exact"}),  # metric names are case-insensitive
        ("R@1<80", {"low"}),
        ("R@1=80", {"exact"}),
        ("R@1!=80", {"high", "low"}),  # a run without the metric never matches
        ("R@5>80", {"high", "exact"}),  # any metric of the first test set, not only the headline
        ("best>75", {"high", "exact"}),  # the headline metric
        ("step<1000", {"low", "untrained"}),
        ("R@1>75 tag:baseline", {"high"}),
        ("R@1>75 step>=2000", {"exact"}),
        ("mIoU>10", set()),
    ],
)
def test_comparisons_select_runs(text: str, expected: set[str]) -> None:
    run_filter = RunFilter.parse(text)
    assert run_filter.active and not run_filter.errors
    assert {r.name for r in ROWS if run_filter.matches(r)} == expected


def test_comparison_reads_the_first_test_set_only() -> None:
    # tokyo247 has R@1 99: not read, the headline's test set is pitts30k
    assert not RunFilter.parse("R@1>95").matches(ROWS[1])
    assert RunFilter.parse("mIoU>=45.5").comparisons == (Comparison("mIoU", ">=", 45.5),)


@pytest.mark.parametrize("text", ["R@1>abc", "R@1>", ">80", "R@1>nan"])
def test_bad_comparison_is_an_error_not_a_term(text: str) -> None:
    run_filter = RunFilter.parse(f"{text} #baseline")
    assert len(run_filter.errors) == 1 and text in run_filter.errors[0]
    assert run_filter.tags == ("baseline",) and not run_filter.comparisons and not run_filter.words


def test_terms_matching_nothing_name_the_culprit_with_a_hint() -> None:
    assert terms_matching_nothing("R@1>95 #baseline", ROWS) == ["R@1>95 (the highest is 85)"]
    assert terms_matching_nothing("mIoU>10", ROWS) == ["mIoU>10 (no run has mIoU yet)"]
    assert terms_matching_nothing("step<0 zzz", ROWS) == ["step<0 (the lowest is 0)", "zzz"]
    assert terms_matching_nothing("R@1>80 step>1000", ROWS) == []  # each keeps a run, none keeps both


# -- on the runs screen ------------------------------------------------------------------------------


@pytest.fixture
def scored_runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    make_run(runs, "vpr-70", score=70.0, run_id="20251009-010000-vpr-70")
    make_run(runs, "vpr-85", score=85.0, tags=["baseline"], run_id="20251009-020000-vpr-85")
    make_run(runs, "seg-50", task="segmentation", score=50.0, run_id="20251009-030000-seg-50")
    return runs


def screen_of(app: LabConsoleApp) -> RunsScreen:
    assert isinstance(app.screen, RunsScreen)
    return app.screen


def shown_names(app: LabConsoleApp) -> set[str]:
    table = screen_of(app).query_one(RunsTable)
    return {table.all_rows[i].name for i in table.visible_ids}


async def type_filter(pilot: Pilot[Any], text: str) -> None:
    await pilot.press("slash")
    pilot.app.screen.query_one("#runs-filter", Input).value = text
    await pilot.pause()


async def test_numeric_filter_on_the_runs_screen(
    scored_runs: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(scored_runs)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: len(screen_of(app).query_one(RunsTable).all_rows) == 3)
        await type_filter(pilot, "R@1>80")
        assert shown_names(app) == {"vpr-85"}
        await type_filter(pilot, "mIoU>=45.5")
        assert shown_names(app) == {"seg-50"}
        await type_filter(pilot, "R@1>60 tag:baseline")
        assert shown_names(app) == {"vpr-85"}


async def test_bad_comparison_is_said_in_the_filter_bar(
    scored_runs: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(scored_runs)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: len(screen_of(app).query_one(RunsTable).all_rows) == 3)
        await type_filter(pilot, "R@1>abc")
        error = str(app.screen.query_one("#runs-filter-error", Static).render())
        assert "R@1>abc" in error and "abc is not a number" in error
        assert len(shown_names(app)) == 3  # the bad term is left out, the console goes on
        await type_filter(pilot, "R@1>70")
        assert str(app.screen.query_one("#runs-filter-error", Static).render()) == ""


async def test_empty_result_names_the_filter_and_how_to_clear_it(
    scored_runs: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(scored_runs)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: len(screen_of(app).query_one(RunsTable).all_rows) == 3)
        empty = app.screen.query_one("#runs-empty", Static)
        await type_filter(pilot, "R@1>95 tag:baseline")
        assert empty.display and not shown_names(app)
        note = str(empty.render())
        assert "No run matches R@1>95 tag:baseline" in note
        assert "R@1>95 (the highest is 85) keeps none" in note and "esc clears the filter" in note
        await type_filter(pilot, "mAP>50")
        assert "No run matches mAP>50 (no run has mAP yet)." in str(empty.render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(shown_names(app)) == 3 and not empty.display)


def test_comparison_on_a_config_column_shown() -> None:
    rows = [
        RunRow(id=i, dir=Path(i), name=i, status="completed", config_values=v)
        for i, v in (
            ("small", {"optim.lr": "1e-05"}),
            ("big", {"optim.lr": "0.1"}),
            ("named", {"optim.lr": "x"}),
        )
    ]
    assert [r.id for r in rows if RunFilter.parse("optim.lr<1e-3").matches(r)] == ["small"]
