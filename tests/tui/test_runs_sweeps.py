"""Sweeps in the runs screen: one group row per sweep (n/N, running, best point), Enter/→ unfold it, ← folds,
`sweep:NAME` filters; the pure grouping and the run.json "sweep" reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.core.protocol.listing import check_run_info, sweep_membership
from tests.tui.fixtures import FROZEN_NOW, HOUR, frozen_clock, make_run, update_run, wait_for
from tests.tui.sweep_fixtures import make_sweep
from tui.app import LabConsoleApp
from tui.data.run_index import RunRow
from tui.data.sweep_groups import group_sweeps, split_sweep_terms
from tui.screens.runs import RunsScreen
from tui.widgets.sweep_runs_table import GROUP_KEY, SweepRunsTable

AXES = {"optim.lr": ["1e-3", "3e-3"], "model.aggregator": ["gem", "netvlad"]}


def lr_sweep(runs_dir: Path) -> tuple[str, list[Path]]:
    """A 4-point sweep: two done (70, 82), one running, one queued; plus a run outside sweeps."""
    make_run(runs_dir, "lonely-run", score=60.0, started=FROZEN_NOW - 10 * HOUR)  # older: listed last
    return make_sweep(
        runs_dir, "lr-sweep", AXES, ["completed", "completed", "running", "queued"], [70, 82, 50, None]
    )


def table(app: Any) -> SweepRunsTable:
    return next(s for s in app.screen_stack if isinstance(s, RunsScreen)).query_one(SweepRunsTable)


def row_text(t: SweepRunsTable, key: str) -> str:
    return " ".join(str(cell) for cell in t.get_row(key))


def test_sweep_membership_reads_and_checks_run_json() -> None:
    info = {"sweep": {"id": "s1", "name": "lr", "index": 1, "total": 3, "varied": {"optim.lr": "1e-3"}}}
    found = sweep_membership(info)
    assert found is not None and (found.id, found.index, found.total) == ("s1", 1, 3)
    assert found.varied == (("optim.lr", "1e-3"),)
    assert sweep_membership({"sweep": {"id": "bad id!", "index": 0, "total": 1}}) is None
    assert sweep_membership({}) is None
    _, problems = check_run_info({"sweep": "oops"})
    assert problems and "sweep" in problems[0]


def test_sweep_terms() -> None:
    assert split_sweep_terms("gem sweep:LR,agg status:done") == ("gem status:done", ("lr", "agg"))


def test_group_sweeps_counts_progress_and_best(tmp_path: Path) -> None:
    def row(i: int, status: str, metric: float | None) -> RunRow:
        sweep = sweep_membership(
            {"sweep": {"id": "s", "name": "lr", "index": i, "total": 3, "varied": {"optim.lr": str(i)}}}
        )
        return RunRow(
            id=f"r{i}",
            dir=tmp_path,
            name=f"r{i}",
            status=status,
            metric=metric,
            metric_name="R@1",
            sweep=sweep,
        )

    group = group_sweeps([row(2, "running", 40.0), row(0, "completed", 70.0), row(1, "failed", None)])["s"]
    assert (group.done, group.total, group.running, group.failed) == (2, 3, 1, 1)
    assert (group.best, group.best_run, group.best_point) == (70.0, "r0", "lr=0")
    assert group.members == ("r0", "r1", "r2")


async def test_group_row_expands_collapses_and_filters(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    sweep_id, folders = lr_sweep(runs_dir)
    group_key = GROUP_KEY + sweep_id
    app = LabConsoleApp(runs_dir, clock=frozen_clock, refresh_interval=0.05)
    async with app.run_test(size=(160, 30)) as pilot:
        t = table(app)
        await wait_for(pilot, lambda: len(t.all_rows) == 4)
        assert t.visible_ids[0] == group_key and len(t.visible_ids) == 2  # the sweep folded, the lonely run
        text = row_text(t, group_key)
        assert "2/4 done" in text and "▶1" in text
        assert "best lr=1e-3 aggregator=n" in text and "82.0" in text

        await pilot.press("enter")  # unfold
        await wait_for(pilot, lambda: len(t.visible_ids) == 5)
        assert t.visible_ids[1:4] == [f.name for f in folders]
        assert "lr=1e-3 aggregator=gem" in row_text(t, folders[0].name)
        await pilot.press("down", "down")
        assert t.selected is not None and t.selected.id == folders[1].name
        await pilot.press("left")  # fold from one of its runs: the cursor goes back to the group row
        await wait_for(pilot, lambda: len(t.visible_ids) == 2)
        assert t.selected_group is not None and t.cursor_key == group_key
        await pilot.press("right")
        await wait_for(pilot, lambda: len(t.visible_ids) == 5)

        update_run(folders[2], status="completed", ended=FROZEN_NOW)  # a point ends: its group row follows
        await wait_for(pilot, lambda: "3/4 done" in row_text(t, group_key))

        await pilot.press("slash", *"sweep:lr-sw", "enter")
        await wait_for(pilot, lambda: t.visible_ids == [group_key, *(f.name for f in folders)])
