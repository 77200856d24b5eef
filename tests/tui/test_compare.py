"""Pilot tests of comparing runs: marking in the runs list, the metric table, config diff, curves and exports."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static

from tests.tui.fixtures import FROZEN_NOW, HOUR, make_run, update_run, wait_for
from tui.app import LabConsoleApp
from tui.data.compare_runs import MISSING, config_diff, load_run, metric_rows
from tui.screens.compare import CompareScreen, export_folder
from tui.screens.runs import RunsScreen
from tui.widgets.compare_diff import ConfigDiff
from tui.widgets.compare_table import CompareTable, cell
from tui.widgets.runs_table import RunsTable

BASE_METRICS = {"pitts30k": {"R@1": 80.0, "R@5": 90.0}, "tokyo247": {"R@1": 60.0}}
CAND_METRICS = {"pitts30k": {"R@1": 82.5, "R@5": 89.0}, "tokyo247": {"R@1": 61.25}}


@pytest.fixture
def pair(tmp_path: Path) -> dict[str, Path]:
    """A baseline and a candidate differing in backbone, tags, metrics, duration and system figures."""
    runs = tmp_path / "runs"
    base = make_run(
        runs,
        "base",
        metrics=BASE_METRICS,
        tags=["baseline"],
        max_steps=40,
        duration=HOUR,
        started=FROZEN_NOW - 5 * HOUR,
        splits=list(BASE_METRICS),
    )
    cand = make_run(
        runs,
        "cand",
        backbone="convnext_tiny",
        metrics=CAND_METRICS,
        max_steps=40,
        duration=2 * HOUR,
        started=FROZEN_NOW - 3 * HOUR,
        splits=list(BASE_METRICS),
    )
    with (cand / "events.jsonl").open("a", encoding="utf-8") as f:  # a GPU run: peak memory wins over RSS
        f.write(
            json.dumps(
                {
                    "t": FROZEN_NOW,
                    "kind": "system",
                    "step": 40,
                    "values": {"img_per_s": 437.5, "gpu_mem_peak_mb": 6144.0},
                }
            )
            + "\n"
        )
    # what the engine records: images per step and the seconds spent in training windows
    update_run(base, global_batch=36_000, train_seconds=HOUR)
    update_run(cand, global_batch=90_000, train_seconds=2 * HOUR)
    return {"runs": runs, "base": base, "cand": cand}


def table(app: LabConsoleApp) -> RunsTable:
    """The runs table."""
    return next(s for s in app.screen_stack if isinstance(s, RunsScreen)).query_one(RunsTable)


async def mark(pilot: Pilot[Any], run_dir: Path) -> None:
    """Put the cursor on `run_dir` and press space."""
    t = table(pilot.app)  # type: ignore[arg-type]
    t.move_cursor(row=t.visible_ids.index(run_dir.name))
    await pilot.press("space")


async def compare_loaded(pilot: Pilot[Any]) -> CompareScreen:
    """Wait for the compare screen to read its runs."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and bool(pilot.app.screen.runs))
    return pilot.app.screen  # type: ignore[return-value]


# -- the data -----------------------------------------------------------------------------------------


def test_metric_rows_values_deltas_and_cells(pair: dict[str, Path]) -> None:
    runs = [load_run(pair["base"]), load_run(pair["cand"])]
    rows = {r.label: r for r in metric_rows(runs)}
    assert list(rows) == [
        "pitts30k R@1",
        "pitts30k R@5",
        "tokyo247 R@1",
        "train time",
        "img/s",
        "peak memory",
    ]
    assert rows["pitts30k R@1"].values == [80.0, 82.5] and rows["pitts30k R@1"].deltas == [None, 2.5]
    assert rows["tokyo247 R@1"].deltas == [None, 1.25]
    assert rows["train time"].values == [HOUR, 2 * HOUR]
    assert rows["img/s"].values == [400.0, 500.0]  # 40 steps × global_batch / train_seconds
    assert rows["peak memory"].values == [2150.0, 6144.0]  # RSS for the CPU run, GPU peak for the other

    r1, r5 = cell(rows["pitts30k R@1"], 1), cell(rows["pitts30k R@5"], 1)
    assert r1.plain == "82.50 +2.50" and r5.plain == "89.00 -1.00"
    assert cell(rows["pitts30k R@1"], 0).plain == "80.00"
    assert _style_at(r1, 0) == "bold" and _style_at(r1, 7) == "green"  # best of the row; improvement
    assert _style_at(r5, 0) == "" and _style_at(r5, 7) == "red"
    assert _style_at(cell(rows["pitts30k R@5"], 0), 0) == "bold"  # the baseline is best on R@5
    assert cell(rows["train time"], 1).plain == "2h 00m +1h 00m"
    assert cell(rows["img/s"], 1).plain == "500.0 +100.0" and _style_at(cell(rows["img/s"], 1), 7) == "green"
    mem = cell(rows["peak memory"], 1)
    assert mem.plain == "6,144 MB +3,994 MB" and _style_at(mem, 10) == "red"  # more memory is worse


def _style_at(text: Any, offset: int) -> str:
    """The style of the span covering character `offset` ('' when none)."""
    return next((str(s.style) for s in text.spans if s.start <= offset < s.end), "")


def test_config_diff_only_differing_keys(pair: dict[str, Path]) -> None:
    runs = [load_run(pair["base"]), load_run(pair["cand"])]
    diff = dict(config_diff(runs))
    assert set(diff) == {"name", "tags", "model.backbone.preset", "model.backbone.name"}
    assert diff["model.backbone.name"] == ["resnet50", "convnext_tiny"]
    with (pair["cand"] / "events.jsonl").open(
        "a", encoding="utf-8"
    ) as f:  # steered further than the baseline
        for step, values in ((30, {"freeze.backbone": "frozen"}), (35, {"optim.lr": 1e-5})):
            f.write(
                json.dumps(
                    {
                        "t": FROZEN_NOW,
                        "kind": "control",
                        "step": step,
                        "action": "set",
                        "status": "applied",
                        "values": values,
                    }
                )
                + "\n"
            )
    diff = dict(config_diff([load_run(pair["base"]), load_run(pair["cand"])]))
    assert diff["optim.lr (set mid-run)"] == ["5e-05 @20", "5e-05 @20 → 1e-05 @35"]
    assert (
        diff["freeze.backbone (set mid-run)"][1] == "frozen @30"
        and diff["freeze.backbone (set mid-run)"][0] is MISSING
    )


# -- the runs list -------------------------------------------------------------------------------------


async def test_marked_runs_open_compare_in_marking_order(
    pair: dict[str, Path], make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(pair["runs"])
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: len(table(app).all_rows) == 2)
        await mark(pilot, pair["base"])
        await mark(pilot, pair["cand"])
        assert list(table(app).marked) == [pair["base"].name, pair["cand"].name]
        assert table(app).get_row(pair["cand"].name)[1].plain.startswith("● cand")
        await pilot.press("d")
        screen = await compare_loaded(pilot)
        assert screen.run_dirs == [pair["base"], pair["cand"]] and screen.runs[0].name == "base"
        await pilot.press("escape")
        await mark(pilot, pair["cand"])  # unmark
        assert list(table(app).marked) == [pair["base"].name]
        assert not table(app).get_row(pair["cand"].name)[1].plain.startswith("●")


async def test_compare_without_marks_uses_the_baseline_tag(
    pair: dict[str, Path], make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(pair["runs"])
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: len(table(app).all_rows) == 2)
        t = table(app)
        t.move_cursor(row=t.visible_ids.index(pair["cand"].name))
        await pilot.press("d")
        screen = await compare_loaded(pilot)
        assert [r.name for r in screen.runs] == ["base", "cand"]


async def test_c_and_shift_c_open_the_composer(
    pair: dict[str, Path], make_app: Callable[..., LabConsoleApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[tuple[Path, Path | None]] = []

    class FakeComposer(Screen[None]):
        def __init__(self, runs_dir: Path, base: Path | None) -> None:
            super().__init__()
            opened.append((runs_dir, base))

    monkeypatch.setattr("tui.app.composer_screen_class", lambda: FakeComposer)
    app = make_app(pair["runs"])
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: len(table(app).all_rows) == 2)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, FakeComposer))
        app.pop_screen()
        t = table(app)
        t.move_cursor(row=t.visible_ids.index(pair["base"].name))
        await pilot.press("C")
        await wait_for(pilot, lambda: len(opened) == 2)
    assert opened == [(pair["runs"], None), (pair["runs"], pair["base"] / "config.yaml")]


# -- the compare screen --------------------------------------------------------------------------------


async def test_table_diff_and_baseline_cycle(
    pair: dict[str, Path], make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(pair["runs"])
    async with app.run_test(size=(120, 32)) as pilot:
        app.open_compare([pair["base"], pair["cand"]])
        screen = await compare_loaded(pilot)
        grid = screen.query_one(CompareTable)
        assert [r.label for r in grid.rows_shown][:3] == ["pitts30k R@1", "pitts30k R@5", "tokyo247 R@1"]
        assert [c.plain for c in grid.get_row("0")] == ["pitts30k R@1", "80.00", "82.50 +2.50"]
        assert set(screen.query_one(ConfigDiff).keys_shown) == {
            "name",
            "tags",
            "model.backbone.preset",
            "model.backbone.name",
        }
        await pilot.press("b")
        await pilot.pause()
        assert [c.plain for c in grid.get_row("0")] == ["pitts30k R@1", "82.50", "80.00 -2.50"]
        await pilot.press("3")
        await pilot.pause()
        assert screen.query_one("TabbedContent").active == "curves"


async def test_markdown_and_csv_exports_cell_by_cell(
    pair: dict[str, Path], make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(pair["runs"])
    folder = export_folder(pair["runs"], FROZEN_NOW)
    async with app.run_test(size=(120, 32)) as pilot:
        app.open_compare([pair["base"], pair["cand"]])
        await compare_loaded(pilot)
        await pilot.press("m", "v")
        await wait_for(pilot, lambda: (folder / "compare.md").exists() and (folder / "compare.csv").exists())
    lines = (folder / "compare.md").read_text().splitlines()
    assert lines[0] == "Baseline: **base**; candidate: **cand**"  # names; the ids in the footnote
    assert f"base = `{pair['base'].name}`" in lines[-1] and f"cand = `{pair['cand'].name}`" in lines[-1]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:7]]
    assert cells[0] == ["Metric", "Baseline", "Candidate", "Delta"]
    assert cells[2:] == [
        ["pitts30k R@1", "80.00%", "**82.50%**", "+2.50 pp"],
        ["pitts30k R@5", "**90.00%**", "89.00%", "-1.00 pp"],
        ["tokyo247 R@1", "60.00%", "**61.25%**", "+1.25 pp"],
    ]
    rows = list(csv.reader((folder / "compare.csv").read_text().splitlines()))
    base, cand = "base", "cand"
    assert {row[1] for row in rows[4:]} >= {"train time", "peak memory"}  # the screen's rows too
    assert rows[:4] == [
        ["split", "metric", "unit", "delta unit", base, cand, f"delta {cand}"],
        ["pitts30k", "R@1", "%", "pp", "80.00", "82.50", "+2.50"],
        ["pitts30k", "R@5", "%", "pp", "90.00", "89.00", "-1.00"],
        ["tokyo247", "R@1", "%", "pp", "60.00", "61.25", "+1.25"],
    ]


async def test_full_export_writes_csvs_and_plots(
    pair: dict[str, Path], make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(pair["runs"])
    folder = export_folder(pair["runs"], FROZEN_NOW)
    async with app.run_test(size=(120, 32)) as pilot:
        app.open_compare([pair["base"], pair["cand"]])
        await compare_loaded(pilot)
        await pilot.press("x")
        await wait_for(
            pilot, lambda: (folder / "loss.png").exists() and (folder / "lr.png").exists(), timeout=60
        )
        await wait_for(
            pilot, lambda: any("Exported" in (n.title or "") for n in app._notifications), timeout=60
        )
    for run in (pair["base"], pair["cand"]):
        assert (folder / run.name / "scalars.csv").read_text().startswith("step,")
    assert (folder / "compare.md").exists() and (folder / "pitts30k_R1.png").exists()


async def test_runs_of_different_tasks_are_said_in_the_title(
    tmp_path: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    runs = tmp_path / "runs"
    vpr = make_run(runs, "vpr-run", run_id="20251009-010000-vpr-run")
    seg = make_run(runs, "seg-run", run_id="20251009-020000-seg-run", task="seg")
    app = make_app(runs)
    async with app.run_test(size=(120, 32)) as pilot:
        app.open_compare([vpr, seg])
        await compare_loaded(pilot)
        title = str(app.screen.query_one("#cmp-title", Static).render())
        assert "⚠ the runs are of different tasks" in title


async def test_a_set_measured_otherwise_is_marked_not_comparable(
    pair: dict[str, Path], make_app: Callable[..., LabConsoleApp]
) -> None:
    measured = {
        "set": "pitts30k",
        "database": 1000,
        "queries": 1000,
        "radius_m": 25.0,
        "resolution": "224x224",
    }
    split = next(iter(json.loads((pair["base"] / "run.json").read_text())["best"]))
    update_run(pair["base"], fingerprints={split: {**measured, "set": split}})
    update_run(pair["cand"], fingerprints={split: {**measured, "set": split, "queries": 740}})
    app = make_app(pair["runs"])
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: len(table(app).all_rows) == 2)
        await mark(pilot, pair["base"])
        await mark(pilot, pair["cand"])
        await pilot.press("d")
        screen = await compare_loaded(pilot)
        shown = screen.query_one(CompareTable).rows_shown
        first = next(row for row in shown if row.label.startswith(f"{split} ") and row.unit == "pct")
        assert first.marks == [None, "1,000 vs 740 queries"]
        assert "≠ 1,000 vs 740 queries" in cell(first, 1).plain and "≠" not in cell(first, 0).plain
        protocol = next(row for row in shown if row.label == f"{split} protocol")
        assert "1,000 q" in protocol.texts[0] and "740 q" in protocol.texts[1]
