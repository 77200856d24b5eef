"""Pilot tests of the runs screen and the launcher on fixture run folders (no torch, no real engine)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Static, TextArea

from tests.tui.fixtures import make_run, update_run, validated, wait_for
from tui.app import LabConsoleApp
from tui.screens.launcher import LauncherScreen
from tui.screens.monitor import MonitorScreen
from tui.screens.runs import RunsScreen
from tui.widgets.runs_table import RunsTable

ALL_NAMES = {
    "r50-gem-baseline",
    "convnext-gem-ms",
    "dinov2-salad",
    "seg-convnext-ce-lovasz",
    "seg-r50-dice-oom",
    "cls-resnet18",
    "r50-netvlad-cosface",
    "mnv3-avg-queued",
    "r18-gem-sanity",
}


def table(app: LabConsoleApp) -> RunsTable:
    """The runs table of the runs screen (whichever screen is on top)."""
    return next(s for s in app.screen_stack if isinstance(s, RunsScreen)).query_one(RunsTable)


def names(app: LabConsoleApp) -> list[str]:
    """Run names in display order."""
    t = table(app)
    return [t.all_rows[i].name for i in t.visible_ids]


async def loaded(pilot: Pilot[Any], count: int = len(ALL_NAMES)) -> None:
    """Wait for the first scan to fill the table."""
    await wait_for(pilot, lambda: len(table(pilot.app).all_rows) == count)  # type: ignore[arg-type]


class FakeMonitor(Screen[None]):
    """Stands in for the monitor screen; remembers which run it was opened on."""

    opened: ClassVar[list[Path]] = []

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir
        FakeMonitor.opened.append(run_dir)


@pytest.fixture
def fake_monitor(monkeypatch: pytest.MonkeyPatch) -> type[FakeMonitor]:
    """Route 'open monitor' to FakeMonitor."""
    FakeMonitor.opened = []
    monkeypatch.setattr("tui.app.monitor_screen_class", lambda: FakeMonitor)
    return FakeMonitor


# -- listing ----------------------------------------------------------------------------------------


async def test_lists_every_run_newest_first(runs_dir: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        shown = names(app)
        assert set(shown) == ALL_NAMES
        assert shown[0] == "mnv3-avg-queued" and shown[-1] == "r18-gem-sanity"


async def test_rows_show_effective_status_and_columns(
    runs_dir: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        rows = {r.name: r for r in table(app).all_rows.values()}
        assert rows["r50-netvlad-cosface"].status == "interrupted"  # its engine pid is dead
        assert rows["convnext-gem-ms"].status == "running"
        assert (rows["r50-gem-baseline"].metric_name, rows["r50-gem-baseline"].metric) == ("R@1", 85.3)
        assert (rows["seg-convnext-ce-lovasz"].metric_name, rows["seg-convnext-ce-lovasz"].loss) == (
            "mIoU",
            "ce+lovasz",
        )
        assert rows["cls-resnet18"].metric_name == "top1"
        t = table(app)
        run_id = rows["convnext-gem-ms"].id
        cells = [c.plain for c in t.get_row(run_id)]
        assert "convnext-gem-ms" in cells[1] and "3,250/10k" in cells and any("78.2" in c for c in cells)
        assert cells[0].endswith("running")


async def test_narrow_terminal_hides_low_priority_columns(
    runs_dir: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        keys = [str(c.key.value) for c in table(app).ordered_columns]
        assert keys[:2] == ["status", "name"] and "metric" in keys and "step" in keys
        assert "task" not in keys and "aggregator" not in keys
        await pilot.resize_terminal(170, 32)
        await wait_for(pilot, lambda: len(table(app).ordered_columns) == 10)


# -- sorting and filtering --------------------------------------------------------------------------


async def test_sort_by_metric_then_reverse(runs_dir: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        app.screen.action_sort_by("metric")  # type: ignore[attr-defined]
        await pilot.pause()
        assert names(app)[:3] == ["r50-gem-baseline", "r50-netvlad-cosface", "convnext-gem-ms"]
        assert {"dinov2-salad", "mnv3-avg-queued", "seg-r50-dice-oom"} == set(
            names(app)[-3:]
        )  # no metric: last
        await pilot.press("S")
        assert names(app)[0] == "r18-gem-sanity"
        assert (
            str(
                table(app)
                .ordered_columns[[str(c.key.value) for c in table(app).ordered_columns].index("metric")]
                .label
            )
            == "best ▲"
        )


async def test_s_key_cycles_sort_columns(runs_dir: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("s")  # started (last) -> status (first)
        assert table(app).sort_key == "status"
        assert names(app)[:2] == ["dinov2-salad", "convnext-gem-ms"]  # running first, ties newest first
        await pilot.press("s")
        assert table(app).sort_key == "name"
        assert names(app) == sorted(ALL_NAMES)


async def test_click_header_sorts(runs_dir: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        t = table(app)
        x = 0
        for column in t.ordered_columns:
            if str(column.key.value) == "name":
                break
            x += column.get_render_width(t)
        await wait_for(
            pilot, lambda: app.screen.get_style_at(x + 2, t.region.y).meta.get("column") == 1
        )  # drawn
        await pilot.click(RunsTable, offset=(x + 2, 0))
        await wait_for(pilot, lambda: t.sort_key == "name")
        assert names(app) == sorted(ALL_NAMES)
        await pilot.click(RunsTable, offset=(x + 3, 0))  # a cell further: a second click, not a double click
        await wait_for(pilot, lambda: t.sort_reverse)
        assert names(app) == sorted(ALL_NAMES, reverse=True)


async def test_filter_by_text_then_escape(runs_dir: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"seg")
        assert set(names(app)) == {"seg-convnext-ce-lovasz", "seg-r50-dice-oom"}
        await pilot.press("enter")
        assert isinstance(app.focused, RunsTable) and len(names(app)) == 2  # filter kept
        await pilot.press("escape")
        assert set(names(app)) == ALL_NAMES


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status:running", {"convnext-gem-ms", "dinov2-salad"}),
        ("#baseline", {"r50-gem-baseline"}),
        ("tag:sweep,sanity", {"convnext-gem-ms", "r18-gem-sanity"}),
        ("task:seg status:failed", {"seg-r50-dice-oom"}),
        ("resnet50 gem", {"r50-gem-baseline"}),
        ("nothing-matches", set()),
    ],
)
async def test_filter_terms(
    runs_dir: Path, make_app: Callable[..., LabConsoleApp], query: str, expected: set[str]
) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("slash")
        app.screen.query_one("#runs-filter", Input).value = query
        await pilot.pause()
        assert set(names(app)) == expected
        empty = app.screen.query_one("#runs-empty", Static)
        assert empty.display == (not expected)


async def test_f_cycles_status_filter(runs_dir: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("f")
        assert set(names(app)) == {"convnext-gem-ms", "dinov2-salad", "mnv3-avg-queued"}
        await pilot.press("f")
        assert set(names(app)) == {"r50-gem-baseline", "seg-convnext-ce-lovasz", "r18-gem-sanity"}
        await pilot.press("f", "f")
        assert set(names(app)) == {"cls-resnet18", "r50-netvlad-cosface"}
        await pilot.press("f")
        assert set(names(app)) == ALL_NAMES


# -- live refresh -----------------------------------------------------------------------------------


async def test_live_refresh_progress_end_new_and_removed_runs(
    runs_dir: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        t = table(app)
        run = next(r for r in t.all_rows.values() if r.name == "convnext-gem-ms")
        update_run(run.dir, progress={"step": 4_000, "max_steps": 10_000, "epoch": 8.333})
        await wait_for(pilot, lambda: t.all_rows[run.id].step == 4_000)
        assert "4,000/10k" in [c.plain for c in t.get_row(run.id)]
        update_run(
            run.dir, status="completed", ended=run.started + 3 * 3600, best={"pitts30k": {"R@1": 88.8}}
        )
        await wait_for(pilot, lambda: t.all_rows[run.id].status == "completed")
        assert any("88.8" in c.plain for c in t.get_row(run.id))
        make_run(runs_dir, "fresh-run", "running", started=1_760_000_000.0 - 5)
        await wait_for(pilot, lambda: "fresh-run" in names(app))
        assert names(app)[0] == "fresh-run"
        shutil.rmtree(run.dir)
        await wait_for(pilot, lambda: "convnext-gem-ms" not in names(app))


async def test_empty_runs_dir_invites_a_launch(
    tmp_path: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(tmp_path / "missing")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#runs-empty", Static).display)
        assert "Press n" in str(app.screen.query_one("#runs-empty", Static).render())


# -- opening runs, palette, theme ---------------------------------------------------------------------


async def test_enter_opens_monitor_of_selected_run(
    runs_dir: Path, make_app: Callable[..., LabConsoleApp], fake_monitor: type[FakeMonitor]
) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("down", "enter")
        assert isinstance(app.screen, FakeMonitor)
        assert fake_monitor.opened == [table(app).all_rows[table(app).visible_ids[1]].dir]


async def test_enter_opens_the_monitor(runs_dir: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        assert app.screen.run_dir == table(app).all_rows[table(app).visible_ids[0]].dir


async def test_palette_offers_every_screen_action(
    runs_dir: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        titles = {c.title.split("  (")[0] for c in app.get_system_commands(app.screen)}  # without the key
        expected = {
            "Open run",
            "New run",
            "Filter runs",
            "Clear filter",
            "Cycle status filter",
            "Reverse sort",
            "Refresh runs",
            "Sort by best metric",
            "Sort by aggregator",
            "Sort by started",
            "Toggle dark/light",
            "Quit",
        }
        assert expected <= titles


async def test_theme_toggle_and_quit(runs_dir: Path, make_app: Callable[..., LabConsoleApp]) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light" and not app.current_theme.dark
        await pilot.press("ctrl+t")
        assert app.current_theme.dark
        await pilot.press("q")
    assert app.return_code in (0, None)


# -- launcher -------------------------------------------------------------------------------------------


GOOD_CFG = {
    "name": "demo",
    "task": {"name": "vpr"},
    "model": {"backbone": {"name": "resnet18"}, "aggregator": {"name": "gem"}},
    "loss": {"name": "multi_similarity"},
    "optim": {"name": "adamw", "lr": 1e-4},
    "schedule": {"name": "cosine"},
    "train": {"max_steps": 400},
    "device": {"name": "cpu", "amp": "off"},
}


@pytest.fixture
def fake_engine_config(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """A resolver with two presets that rejects optim.lr values that are not numbers; records its calls."""
    import engine.core.launch  # noqa: F401 - imported first so it keeps the real resolver after this test
    from engine.core.errors import ConfigError

    calls: list[tuple[str, list[str]]] = []

    def resolve(source: str, overrides: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        calls.append((source, list(overrides)))
        for item in overrides:
            key, _, value = item.partition("=")
            if key == "optim.lr":
                try:
                    float(value)
                except ValueError:
                    raise ConfigError("optim.lr", f"expected a number, got {value!r}") from None
            elif key != "train.max_steps":
                raise ConfigError(key, "unknown key")
        return GOOD_CFG

    monkeypatch.setattr("engine.core.config.resolve_config", resolve)
    monkeypatch.setattr(
        "engine.core.config.describe_presets",
        lambda slot: {"demo": "VPR on the synthetic city", "seg_demo": "Segmentation demo"},
    )
    return calls


def status_line(app: LabConsoleApp) -> str:
    """The launcher's validation line."""
    return str(app.screen.query_one("#launcher-status", Static).render())


async def test_launcher_validates_as_you_type(
    runs_dir: Path, make_app: Callable[..., LabConsoleApp], fake_engine_config: list[tuple[str, list[str]]]
) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("n")
        assert isinstance(app.screen, LauncherScreen)
        await wait_for(pilot, lambda: status_line(app).startswith("✓"))
        assert "vpr · resnet18 · gem · multi_similarity · 400 steps · cpu" in status_line(app)
        await pilot.press("tab", *"optim.lr=abc")
        await wait_for(pilot, lambda: "optim.lr: expected a number" in status_line(app))
        assert status_line(app).startswith("✗ line 1: ")
        assert app.screen.query_one(TextArea).has_class("-invalid")
        await pilot.press("enter", *"junk")
        await wait_for(pilot, lambda: "line 2: expected key=value" in status_line(app))
        editor = app.screen.query_one(TextArea)
        editor.text = "optim.lr=3e-4"
        await wait_for(pilot, lambda: status_line(app).startswith("✓"))
        assert not editor.has_class("-invalid")
        assert fake_engine_config[-1] == ("demo", ["optim.lr=3e-4"])
        await pilot.press("escape", "d")  # typed overrides: leaving asks first (d discards them)
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))


async def test_launcher_validation_is_debounced(
    runs_dir: Path, make_app: Callable[..., LabConsoleApp], fake_engine_config: list[tuple[str, list[str]]]
) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: status_line(app).startswith("✓"))
        before = len(fake_engine_config)
        await pilot.press("tab", *"train.max_steps=10")
        await validated(pilot)
        assert 1 <= len(fake_engine_config) - before <= 3  # 18 keystrokes, one check per pause in typing
        assert fake_engine_config[-1] == ("demo", ["train.max_steps=10"])


async def test_launcher_launches_and_opens_the_monitor(
    runs_dir: Path,
    make_app: Callable[..., LabConsoleApp],
    fake_engine_config: list[tuple[str, list[str]]],
    fake_monitor: type[FakeMonitor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine.core.protocol import RunPaths

    launched: list[dict[str, Any]] = []

    def fake_launch(
        config: str,
        overrides: list[str] = (),
        runs_dir: Path | None = None,
        name: str | None = None,
        argv: list[str] | None = None,
    ) -> RunPaths:
        launched.append({"config": config, "overrides": list(overrides), "runs_dir": runs_dir, "name": name})
        return RunPaths(make_run(runs_dir, name or "demo", "queued", started=1_760_000_000.0 - 1))

    monkeypatch.setattr("engine.core.launch.launch_run", fake_launch)
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: status_line(app).startswith("✓"))
        await pilot.press("down")  # second preset
        await pilot.press("tab", *"optim.lr=1e-3", "tab", *"my-run")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, FakeMonitor))
        assert launched == [
            {"config": "seg_demo", "overrides": ["optim.lr=1e-3"], "runs_dir": runs_dir, "name": "my-run"}
        ]
        assert fake_monitor.opened[0].name.endswith("-my-run")
        await wait_for(pilot, lambda: "my-run" in names(app))


async def test_launcher_refuses_an_invalid_config(
    runs_dir: Path,
    make_app: Callable[..., LabConsoleApp],
    fake_engine_config: list[tuple[str, list[str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    launched: list[str] = []
    monkeypatch.setattr("engine.core.launch.launch_run", lambda *a, **k: launched.append("x"))
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("n", "tab", *"model.nope=1", "ctrl+l")
        await wait_for(pilot, lambda: "model.nope: unknown key" in status_line(app))
        assert launched == [] and isinstance(app.screen, LauncherScreen)
        assert status_line(app) == "✗ line 1: model.nope: unknown key"


async def test_launcher_with_real_config_names_the_bad_key(
    runs_dir: Path, make_app: Callable[..., LabConsoleApp]
) -> None:
    app = make_app(runs_dir)
    async with app.run_test(size=(120, 32)) as pilot:
        await loaded(pilot)
        await pilot.press("n")
        editor = app.screen.query_one(TextArea)
        editor.text = "train.max_steps=10\noptim.lr=fast"
        await wait_for(pilot, lambda: "optim.lr" in status_line(app))
        assert status_line(app).startswith("✗ line 2: optim.lr")
