"""Unit tests of the console's data layer: run index (mtime cache, budget, summary cache), filter, formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.tui.fixtures import FROZEN_NOW, make_run, populate_runs, update_run, write_run_json
from tui.data import run_index
from tui.data.config_summary import loss_label
from tui.data.run_filter import RunFilter, next_status_filter
from tui.data.run_index import RunIndex, main_metric
from tui.data.summary_cache import SummaryCache, default_cache_path
from tui.format import fmt_count, fmt_duration, fmt_progress, fmt_started
from tui.widgets.runs_table import NAME_MIN, visible_columns


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count run.json reads and config.yaml parses."""
    counts = {"json": 0, "yaml": 0}
    read_json, load_config = run_index.load_run_info, run_index.load_config_summary

    def counting_json(folder: str) -> object:
        counts["json"] += 1
        return read_json(folder)

    def counting_yaml(path: Path) -> object:
        counts["yaml"] += 1
        return load_config(path)

    monkeypatch.setattr(run_index, "load_run_info", counting_json)
    monkeypatch.setattr(run_index, "load_config_summary", counting_yaml)
    return counts


def test_refresh_rereads_only_changed_runs(tmp_path: Path, counted: dict[str, int]) -> None:
    runs = tmp_path / "runs"
    folders = populate_runs(runs)
    index = RunIndex(runs, SummaryCache(None))
    first = index.refresh()
    assert len(first.rows) == 9 and first.changed == set(first.rows) and counted == {"json": 9, "yaml": 9}
    again = index.refresh()
    assert not again.any and counted == {"json": 9, "yaml": 9}
    update_run(folders["r50-gem-baseline"], tags=["baseline", "paper"])
    third = index.refresh()
    assert [third.rows[i].name for i in third.changed] == ["r50-gem-baseline"]
    assert counted["json"] == 10 and counted["yaml"] == 9  # config.yaml did not change


def test_refresh_reports_new_and_removed_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    old = make_run(runs, "old", "completed")
    index = RunIndex(runs, SummaryCache(None))
    index.refresh()
    new = make_run(runs, "new", "running", started=FROZEN_NOW)
    shutil.rmtree(old)
    update = index.refresh()
    assert update.changed == {new.name} and update.removed == {old.name}


def test_folder_without_run_json_waits(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (runs / "20250101-000000-being-created").mkdir(parents=True)
    (runs / ".hidden").mkdir()
    assert RunIndex(runs, SummaryCache(None)).refresh().rows == {}
    assert RunIndex(tmp_path / "missing", SummaryCache(None)).refresh().rows == {}


def test_config_budget_defers_parsing(tmp_path: Path, counted: dict[str, int]) -> None:
    runs = tmp_path / "runs"
    populate_runs(runs)
    index = RunIndex(runs, SummaryCache(None))
    partial = index.refresh(config_budget=0.0)
    assert len(partial.rows) == 9 and partial.pending >= 8 and counted["yaml"] <= 1
    assert any(row.backbone == "" for row in partial.rows.values())
    done = index.refresh()
    assert done.pending == 0 and all(row.backbone for row in done.rows.values())


def test_summary_cache_skips_parsing_next_session(tmp_path: Path, counted: dict[str, int]) -> None:
    runs = tmp_path / "runs"
    populate_runs(runs)
    cache_file = tmp_path / "cache.json"
    RunIndex(runs, SummaryCache(cache_file)).refresh()
    assert counted["yaml"] == 9 and cache_file.is_file()
    rows = RunIndex(runs, SummaryCache(cache_file)).refresh().rows
    assert counted["yaml"] == 9  # all nine summaries came from the cache
    assert {r.backbone for r in rows.values()} >= {"resnet50", "convnext_tiny"}
    cache_file.write_text("{not json", encoding="utf-8")
    RunIndex(runs, SummaryCache(cache_file)).refresh()
    assert counted["yaml"] == 18  # a broken cache is ignored, then rewritten


def test_default_cache_path_follows_xdg(tmp_path: Path, private_cache: Path) -> None:
    assert default_cache_path(tmp_path / "runs").is_relative_to(private_cache / "labconsole")


def test_row_fields_from_run_json_and_config(tmp_path: Path) -> None:
    folder = make_run(
        tmp_path,
        "seg",
        "completed",
        task="segmentation",
        loss="ce+lovasz",
        aggregator="fpn",
        metrics={"val": {"mIoU": 70.5, "IoU/road": 95.0}},
        tags=["a", "b"],
    )
    (row,) = RunIndex(tmp_path, SummaryCache(None)).refresh().rows.values()
    assert (row.name, row.status, row.task, row.aggregator, row.loss) == (
        "seg",
        "completed",
        "segmentation",
        "fpn",
        "ce+lovasz",
    )
    assert (row.metric_name, row.metric, row.tags, row.dir) == ("mIoU", 70.5, ("a", "b"), folder)
    assert row.duration(FROZEN_NOW) == pytest.approx(3600)


def test_malformed_run_json_is_damaged_then_picked_up(tmp_path: Path) -> None:
    folder = make_run(tmp_path, "x", "completed")
    good = (folder / "run.json").read_text()
    (folder / "run.json").write_text("{torn", encoding="utf-8")
    index = RunIndex(tmp_path, SummaryCache(None))
    assert [r.status for r in index.refresh().rows.values()] == ["damaged"]  # shown, never hidden (issue 17)
    write_run_json(folder, json.loads(good))
    assert [r.name for r in index.refresh().rows.values()] == ["x"]


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"main_metric": "R@1", "best": {"pitts": {"R@1": 85.0}, "tokyo": {"R@1": 70.0}}}, ("R@1", 85.0)),
        ({"main_metric": "mIoU", "best": {"val": {"pixel_acc": 90.0, "mIoU": 71.4}}}, ("mIoU", 71.4)),
        ({"main_metric": "top1", "best": {"val": {"top5": 90.0}}}, ("top1", None)),
        ({"main_metric": "mAP"}, ("mAP", None)),
        ({"main_metric": "acc@toy", "best": {"val": {"loss": 0.3, "acc@toy": 51.0}}}, ("acc@toy", 51.0)),
        (
            {"best": {"val": {"acc": 50.0, "f1": 40.0}}},
            ("acc", 50.0),
        ),  # a run from before main_metric was written
    ],
)
def test_main_metric_is_what_the_engine_published(info: dict, expected: tuple) -> None:
    """The first test set (the first in "best", evaluated first) and the published metric; no per-task table."""
    assert main_metric(info) == expected


def test_loss_label() -> None:
    assert loss_label({"name": "cosface", "margin": 0.4}) == "cosface"
    assert loss_label({"name": "mix", "terms": {"ce": 1.0, "lovasz": 0.5}}) == "ce+lovasz"
    assert loss_label({"name": "mix", "terms": [{"name": "ce"}, {"name": "dice"}]}) == "ce+dice"
    assert loss_label("focal") == "focal" and loss_label(None) == ""


def test_filter_parse_and_status_cycle() -> None:
    f = RunFilter.parse("GeM status:run,fail #Baseline task:seg")
    assert (f.words, f.statuses, f.tags, f.tasks) == (("gem",), ("run", "fail"), ("baseline",), ("seg",))
    assert not RunFilter.parse("  ").active
    text = next_status_filter("gem")
    assert text == "gem status:running,queued"
    assert next_status_filter(text) == "gem status:completed"
    assert next_status_filter("gem status:stopped,interrupted") == "gem"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "–"),
        (950, "950"),
        (9_999, "9,999"),
        (12_500, "12.5k"),
        (20_000, "20k"),
        (250_000, "250k"),
        (1_200_000, "1.2M"),
    ],
)
def test_fmt_count(value: int | None, expected: str) -> None:
    assert fmt_count(value) == expected


def test_fmt_helpers() -> None:
    assert (
        fmt_progress(3_250, 10_000) == "3,250/10k"
        and fmt_progress(5, 0) == "5"
        and fmt_progress(None, 9) == "–"
    )
    assert [fmt_duration(s) for s in (None, 42, 187, 3_900, 183_600)] == [
        "–",
        "42s",
        "3m 07s",
        "1h 05m",
        "2d 03h",
    ]
    assert fmt_started(FROZEN_NOW - 60, FROZEN_NOW) == "08:52"
    assert fmt_started(FROZEN_NOW - 86_400 * 3, FROZEN_NOW) == "Oct 06"
    assert fmt_started(FROZEN_NOW - 86_400 * 400, FROZEN_NOW) == "2024-09"


@pytest.mark.parametrize("width", [60, 80, 100, 120, 160, 240])
def test_visible_columns_fit(width: int) -> None:
    columns, name_width = visible_columns(width)
    used = sum((c.width or name_width) + 2 for c in columns)
    assert used <= width or name_width == NAME_MIN
    assert [c.key for c in columns][:2] == ["status", "name"] and "metric" in {c.key for c in columns}
    if width >= 160:
        assert len(columns) == 10
