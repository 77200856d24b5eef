"""The charts' data: series catalogue, x axes, preferences file, timeline markers, legend fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.text import Text

from engine.core.protocol import EventWriter
from tests.tui.fixtures import frozen_clock, make_run
from tui.data.chart_prefs import load_charts, prefs_path, store_charts
from tui.data.chart_series import (
    chart_choices,
    chart_keys,
    chart_title,
    epochs_per_step,
    flat_series,
    fmt_duration,
    line_label,
    run_clock,
    x_axis,
)
from tui.data.compare_runs import load_run
from tui.data.run_snapshot import EvalPoint
from tui.data.run_stream import RunStream
from tui.widgets.curves import _pack, readable_ticks

NAMES = [
    "loss/total",
    "loss/ce",
    "lr/backbone",
    "lr/head",
    "grad_norm",
    "model/temperature",
    "system/img_per_s",
    "eval/tokyo/R@1",
    "eval/pitts/R@1",
    "eval/pitts/R@5",
]


def test_flat_series_names_every_series() -> None:
    one = (np.array([1.0]), np.array([2.0]))
    evals = {
        "tokyo": (EvalPoint(100, {"R@1": 50.0}), EvalPoint(None, {"R@1": 1.0}), EvalPoint(200, {"R@1": 55.0}))
    }
    series = flat_series({"loss/total": one}, {"img_per_s": one}, evals)
    assert sorted(series) == ["eval/tokyo/R@1", "loss/total", "system/img_per_s"]
    assert series["eval/tokyo/R@1"][0].tolist() == [100.0, 200.0]  # an evaluation without a step is left out


def test_chart_groups_and_labels() -> None:
    assert chart_keys("loss", NAMES) == ["loss/total", "loss/ce"]  # the total first
    assert chart_keys("lr", NAMES) == ["lr/backbone", "lr/head"]
    assert chart_keys("eval/*/R@1", NAMES) == ["eval/tokyo/R@1", "eval/pitts/R@1"]
    assert chart_keys("grad_norm", NAMES) == ["grad_norm"] and chart_keys("nope", NAMES) == []
    assert line_label("eval/*/R@1", "eval/pitts/R@1") == "pitts"
    assert line_label("loss", "loss/ce") == "ce" and line_label("grad_norm", "grad_norm") == ""
    assert chart_title("eval/pitts/R@5") == "R@5 pitts" and chart_title("system/img_per_s") == "img_per_s"


def test_chart_choices_are_grouped() -> None:
    choices = chart_choices(NAMES)
    groups = list(dict.fromkeys(c.group for c in choices))
    assert groups == ["loss", "lr", "training", "model", "eval", "system"]  # a prefix is its own group
    charts = [c.chart for c in choices]
    assert {"loss", "lr", "grad_norm", "model/temperature", "eval/*/R@1", "eval/pitts/R@5"} <= set(charts)
    assert "eval/*/R@5" not in charts  # one test set only: the per-split entry is enough


def test_x_axes() -> None:
    info = {"started": 1000.0, "progress": {"step": 500, "epoch": 2.5}}
    assert epochs_per_step(info) == pytest.approx(0.005)
    assert x_axis("epoch", info, None).of(np.array([100.0]))[0] == pytest.approx(0.5)
    assert x_axis("epoch", {}, None).name == "step"  # a run that cannot tell epochs stays on steps
    clock = run_clock(info, [(100.0, 1010.0), (200.0, 1030.0)])
    assert clock is not None
    axis = x_axis("time", info, clock)
    assert axis.of(np.array([0.0, 150.0, 200.0])).tolist() == [0.0, 20.0, 30.0]
    assert [fmt_duration(s) for s in (42, 720, 3900, 90000)] == ["42s", "12m", "1h05", "1d1h"]


def test_readable_ticks_give_at_least_three() -> None:
    for lo, hi in ((0.0, 1.0), (0.1, 0.12), (5e-6, 5.2e-6), (90.0, 1000.0)):
        ticks = readable_ticks(lo, hi, 3)
        span = hi - lo
        assert len(ticks) >= 3 and all(lo - 1e-9 * span <= t <= hi + 1e-9 * span for t in ticks)


def test_legend_packing_wraps_before_it_cuts() -> None:
    entries = [Text("lr"), Text("━ backbone 5.0e-06"), Text("━ head 5.0e-05")]
    assert _pack(entries, 40, 1) is not None
    assert _pack(entries, 30, 1) is None
    two = _pack(entries, 30, 2)
    assert two is not None and two.plain.count("\n") == 1 and "head 5.0e-05" in two.plain


def test_preferences_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABCONSOLE_CHART_PREFS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert prefs_path() == tmp_path / "cfg" / "labconsole" / "charts.json"
    assert load_charts("monitor", "vpr") is None
    store_charts("monitor", "vpr", ["loss", "eval/*/R@1"])
    store_charts("compare", "vpr", ["loss"])
    assert load_charts("monitor", "vpr") == ["loss", "eval/*/R@1"]
    assert load_charts("monitor", "segmentation") is None
    assert json.loads(prefs_path().read_text())["compare"] == {"vpr": ["loss"]}
    prefs_path().write_text("{not json")  # a damaged file reads as no choice, never as an error
    assert load_charts("monitor", "vpr") is None


def test_timeline_markers_and_clock_stamps(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs", "r", "running", max_steps=1000, steps=0, score=None, events=False)
    with EventWriter(folder / "events.jsonl") as w:
        w.scalar(10, {"loss/total": 1.0})
        w.emit("eval", step=10, split="tokyo", metrics={"R@1": 50.0})
        w.emit("eval", step=10, split="pitts", metrics={"R@1": 60.0})
        w.emit("status", step=12, status="paused")
        w.emit("status", step=12, status="running")
        w.emit("eval", step=20, split="tokyo", metrics={"R@1": 55.0})
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    snap = stream.snapshot()
    assert [(m.step, m.kind, m.label) for m in snap.timeline] == [
        (10, "eval", "eval tokyo, pitts"),
        (12, "pause", "paused"),
        (12, "resume", "resumed"),
        (20, "eval", "eval tokyo"),
    ]
    assert snap.clock_stamps[0].tolist() == [10.0, 12.0, 20.0]


def test_compare_runs_read_every_series_and_markers(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs", "r", "completed", max_steps=100)
    with EventWriter(folder / "events.jsonl") as w:
        w.scalar(100, {"model/temperature": 0.07})
        w.emit("control", step=100, id="x", action="eval", status="applied", values={})
        w.emit("status", step=100, status="paused")
    run = load_run(folder)
    assert "model/temperature" in run.scalars and "img_per_s" in run.system
    kinds = [m.kind for m in run.markers]
    assert "pause" in kinds and "eval" in kinds
    assert all(
        m.label != "eval" for m in run.markers if m.kind == "control"
    )  # the command: its eval marks it
    assert len(run.clock_stamps) >= 2
