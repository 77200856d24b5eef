"""Config columns on demand: `+` on the runs screen shows a config.yaml key (optim.lr) as a column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml
from rich.text import Text
from textual.widgets import Input

from tests.tui.fixtures import make_run, wait_for
from tui.app import LabConsoleApp
from tui.data.run_index import RunIndex, RunRow, config_value_text, load_config_values
from tui.data.summary_cache import SummaryCache
from tui.screens.runs import RunsScreen
from tui.screens.text_prompt import TextPromptScreen
from tui.widgets.runs_table import NAME_MIN, RunsTable, sort_rows, visible_columns


def set_config(run_dir: Path, **changes: object) -> None:
    """Change dotted keys of a run's config.yaml (`optim__lr=3e-4` sets optim.lr)."""
    path = run_dir / "config.yaml"
    config = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = config
        for part in parents:
            node = node[part]
        node[last] = value
    path.write_text(yaml.safe_dump(config))


def test_values_are_read_by_dotted_key_and_shown_short(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "runs", "a")
    set_config(run_dir, optim__lr=0.00012345, train__batch_size=64)
    values = load_config_values(
        run_dir / "config.yaml",
        ("optim.lr", "train.batch_size", "model.backbone", "model.image_size.0", "nope.x"),
    )
    assert values == {"optim.lr": "0.0001234", "train.batch_size": "64", "model.backbone": "resnet50",
                      "model.image_size.0": "224"}  # fmt: skip
    assert config_value_text(True) == "true" and config_value_text([1, 2]) == "1,2"


def test_the_index_reads_the_keys_once_per_config(tmp_path: Path) -> None:
    make_run(tmp_path / "runs", "a")
    index = RunIndex(tmp_path / "runs", SummaryCache(tmp_path / "cache.json"))
    (row,) = index.refresh().rows.values()
    assert row.config_values == {}
    index.config_keys = ("optim.lr",)
    update = index.refresh()
    assert update.changed and update.rows[row.id].config_values == {"optim.lr": "0.0001"}
    assert not index.refresh().any  # cached: nothing read again
    index.config_keys = ("optim.lr", "train.batch_size")  # a new key: read again
    assert index.refresh().rows[row.id].config_values == {"optim.lr": "0.0001", "train.batch_size": "128"}


def test_config_columns_follow_the_metric_and_go_before_the_name_shrinks() -> None:
    columns, _ = visible_columns(160, config_keys=("optim.lr", "train.batch_size"))
    keys = [c.key for c in columns]
    assert keys[keys.index("metric") + 1 : keys.index("metric") + 3] == [
        "config:optim.lr",
        "config:train.batch_size",
    ]
    narrow, name_width = visible_columns(60, config_keys=("optim.lr", "train.batch_size"))
    assert name_width >= NAME_MIN and "metric" in [c.key for c in narrow]


def test_config_columns_sort_numbers_by_value_and_missing_last() -> None:
    rows = [
        RunRow(id=i, dir=Path(i), name=i, status="completed", config_values=v)
        for i, v in (
            ("a", {"optim.lr": "0.001"}),
            ("b", {}),
            ("c", {"optim.lr": "1e-05"}),
            ("d", {"optim.lr": "0.1"}),
        )
    ]
    assert [r.id for r in sort_rows(rows, "config:optim.lr", False, 0.0)] == ["c", "a", "d", "b"]
    assert [r.id for r in sort_rows(rows, "config:optim.lr", True, 0.0)] == ["d", "a", "c", "b"]


async def test_plus_adds_then_removes_a_config_column(
    tmp_path: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    runs = tmp_path / "runs"
    set_config(make_run(runs, "slow", run_id="20251009-010000-slow"), optim__lr=1e-5)
    make_run(runs, "fast", run_id="20251009-020000-fast")
    app = make_app(runs)
    async with app.run_test(size=(140, 32)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: len(table.all_rows) == 2)
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        app.screen.query_one("#prompt-text", Input).value = "optim.lr"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))

        def cell(run_id: str) -> str:
            value = table.get_cell(run_id, "config:optim.lr")
            return value.plain if isinstance(value, Text) else str(value)

        await wait_for(pilot, lambda: cell("20251009-010000-slow") == "1e-05")
        assert cell("20251009-020000-fast") == "0.0001"
        table.sort_by("config:optim.lr", reverse=False)
        assert table.visible_ids == ["20251009-010000-slow", "20251009-020000-fast"]

        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        assert "shown: optim.lr" in str(app.screen.query_one("#prompt-hint").render())
        app.screen.query_one("#prompt-text", Input).value = "optim.lr"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert "config:optim.lr" not in [str(k.value) for k in table.columns]
        assert table.sort_key == "started"  # the sort column went with it


def test_a_model_without_an_aggregator_shows_none() -> None:
    from tui.data.config_summary import model_has

    detection = {"params": {"by_group": {"backbone": {}, "neck": {}, "head": {}}}}
    assert not model_has(detection, "aggregator") and model_has(detection, "neck")
    assert model_has({}, "aggregator")  # a run that does not say keeps the column
