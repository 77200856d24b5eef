"""The loss-trend reading on synthetic series whose answer is known."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.tui.fixtures import make_run
from tests.tui.test_charts_monitor import MonitorApp, drawn, legend
from tui.cli.compare_cmd import build_comparison, render_comparison
from tui.data.compare_runs import CompareRun, metric_rows
from tui.data.oscillation import loss_key, reading, theil_sen_slope

STEPS = np.arange(0, 3000, 10, dtype=float)


def _noise(scale: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, len(STEPS))


@pytest.mark.parametrize("seed", range(5))
def test_pure_noise_around_a_constant_is_noisy(seed: int) -> None:
    trend = reading(STEPS, 1.0 + _noise(0.15, seed))
    assert trend is not None and trend.word == "noisy"
    assert trend.cv > 0.1


@pytest.mark.parametrize("seed", range(5))
def test_noisy_exponential_decay_is_improving(seed: int) -> None:
    trend = reading(STEPS, 0.5 + 2.0 * np.exp(-STEPS / 1500) + _noise(0.05, seed))
    assert trend is not None and trend.word == "improving"
    assert trend.slope < 0 and trend.relative_slope_per_1k < 0


@pytest.mark.parametrize("seed", range(5))
def test_flat_with_tiny_noise_is_a_plateau(seed: int) -> None:
    trend = reading(STEPS, 0.8 + _noise(0.004, seed))
    assert trend is not None and trend.word == "plateau"
    assert abs(trend.relative_slope_per_1k) < 0.01


@pytest.mark.parametrize("seed", range(5))
def test_rising_loss_is_diverging(seed: int) -> None:
    trend = reading(STEPS, 0.5 + STEPS / 2000 + _noise(0.05, seed))
    assert trend is not None and trend.word == "diverging"
    assert trend.slope > 0


def test_a_loss_that_jumped_a_window_ago_is_diverging() -> None:
    values = np.where(np.arange(len(STEPS)) < len(STEPS) - 100, 0.5, 5.0) + _noise(0.05)
    trend = reading(STEPS, values)
    assert trend is not None and trend.word == "diverging"


def test_too_few_points_give_no_reading() -> None:
    assert reading(STEPS[:5], np.ones(5)) is None
    assert reading(STEPS, np.full(len(STEPS), np.nan)) is None


def test_a_spike_does_not_move_the_robust_slope() -> None:
    x = np.arange(50, dtype=float)
    y = 2.0 * x
    y[10] = 1e6
    assert theil_sen_slope(x, y) == pytest.approx(2.0)


def test_the_label_reads_without_colour() -> None:
    trend = reading(STEPS, 0.5 + 2.0 * np.exp(-STEPS / 1500) + _noise(0.05))
    assert trend is not None and trend.label == "↘ improving"


def test_a_run_is_read_by_its_total_loss_else_its_first() -> None:
    assert loss_key(["lr/group0", "loss/ce", "loss/total"]) == "loss/total"
    assert loss_key(["lr/group0", "loss/ce"]) == "loss/ce"
    assert loss_key(["grad_norm"]) is None


async def test_the_monitor_legend_reads_each_loss_in_words_without_colour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABCONSOLE_CHART_PREFS", str(tmp_path / "charts.json"))
    folder = make_run(tmp_path / "runs", "convnext-gem", "running", max_steps=10_000, steps=5_000)
    monkeypatch.setenv("NO_COLOR", "1")
    app = MonitorApp(folder)
    monkeypatch.delenv("NO_COLOR")
    async with app.run_test(size=(120, 32)) as pilot:
        _, panel = await drawn(pilot)
        loss = legend(panel, "loss")
        assert re.search(r"⠶ total 0\.1\d* ↘ improving", loss), loss  # NO_COLOR: a point style, not a colour
        assert re.search(r"• multi_similarity 0\.1\d* ↘ improving", loss), loss
        assert not any(word in legend(panel, "lr") for word in ("improving", "plateau", "noisy", "diverging"))


def _run(tmp_path: Path, name: str, loss: np.ndarray) -> CompareRun:
    return CompareRun(tmp_path / name, {"name": name}, {}, scalars={"loss/total": (STEPS, loss)})


def test_compare_reads_each_runs_loss_in_a_row_and_the_cli_writes_it(tmp_path: Path) -> None:
    runs = [
        _run(tmp_path, "learning", 0.5 + 2.0 * np.exp(-STEPS / 1500) + _noise(0.05)),
        _run(tmp_path, "blowing-up", 0.5 + STEPS / 2000 + _noise(0.05)),
        CompareRun(tmp_path / "no-loss", {"name": "no-loss"}, {}),
    ]
    row = metric_rows(runs)[-1]
    assert (row.label, row.texts, row.better) == ("loss trend", ["improving", "diverging", "-"], 0)
    comparison = build_comparison(runs)
    markdown = str(render_comparison(comparison, "markdown"))
    assert "| loss trend | improving | diverging |  | - |  |" in markdown
    csv_lines = str(render_comparison(comparison, "csv")).splitlines()
    assert ",loss trend,,,improving,diverging,,-," in csv_lines
    assert metric_rows(runs[2:]) == []  # no loss, no row
    extras = json.loads(str(render_comparison(comparison, "json")))["extras"]
    assert extras[-1]["texts"] == ["improving", "diverging", "-"]
