"""Console test fixtures: a populated runs directory and a frozen-clock app factory (see fixtures.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tui.fixtures import frozen_clock, populate_runs


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Render local times in UTC so start times and snapshots do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the console's summary cache out of the user's ~/.cache."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


@pytest.fixture(autouse=True)
def private_user_presets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep presets saved by the composer and the launcher out of the user's ~/.config."""
    folder = tmp_path / "user-presets"
    monkeypatch.setenv("LABCONSOLE_USER_PRESETS", str(folder))
    return folder


@pytest.fixture(autouse=True)
def private_chart_prefs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the charts chosen in a test out of the user's ~/.config/labconsole/charts.json."""
    path = tmp_path / "charts.json"
    monkeypatch.setenv("LABCONSOLE_CHART_PREFS", str(path))
    return path


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """A runs directory holding the varied fixture runs of `populate_runs`."""
    folder = tmp_path / "runs"
    populate_runs(folder)
    return folder


@pytest.fixture
def make_app() -> Callable[..., object]:
    """Build a LabConsoleApp on a runs directory with a frozen clock and a fast rescan."""
    from tui.app import LabConsoleApp

    def factory(runs_dir: Path, refresh_interval: float = 0.05) -> LabConsoleApp:
        return LabConsoleApp(runs_dir, clock=frozen_clock, refresh_interval=refresh_interval)

    return factory
