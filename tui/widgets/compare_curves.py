"""The compare screen's overlaid curves: any series the runs logged, one colour (or point style) per run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Vertical
from textual.reactive import reactive

from tui.data.chart_series import (
    X_AXES,
    Choice,
    XAxis,
    chart_choices,
    chart_title,
    flat_series,
    run_clock,
    x_axis,
)
from tui.data.compare_runs import CompareRun, lr_key, main_eval
from tui.data.downsample import ema
from tui.data.run_snapshot import EvalPoint
from tui.widgets.curves import (
    MARKER_COLOURS,
    PALETTE,
    Y_LABEL_WIDTH,
    ChartGrid,
    ChartView,
    CurveChart,
    CurvePlot,
    Line,
    data_span,
    ink,
)
from tui.widgets.runs_table import fit

LOSS_SMOOTHING = 0.9
"""EMA weight of the overlaid loss curves (raw losses of several runs are unreadable on top of each other)."""
LABEL_WIDTH = 16
"""Longest run name in a legend."""


def run_series(run: CompareRun) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every series of a compared run under its flat name (tui.data.chart_series)."""
    evals: dict[str, list[EvalPoint]] = {}
    for (split, metric), (x, y) in run.evals.items():
        points = evals.setdefault(split, [])
        points += [EvalPoint(int(s), {metric: float(v)}) for s, v in zip(x.tolist(), y.tolist())]
    return flat_series(run.scalars, run.system, evals)


def default_charts(runs: list[CompareRun]) -> list[str]:
    """Total loss, the LR most runs have, the baseline's main metric on its first test set."""
    charts = ["loss"]
    key = lr_key(runs)
    if key:
        charts.append(key)
    found = main_eval(runs)
    if found is not None:
        charts.append(f"eval/{found[0]}/{found[1]}")
    return charts


def compare_choices(runs: list[CompareRun]) -> list[Choice]:
    """Every single series any run logged (one line per run); `loss` is the smoothed total."""
    names: set[str] = set()
    for run in runs:
        names |= set(run_series(run))
    choices = [Choice("loss", "loss", f"loss — total, EMA {LOSS_SMOOTHING:g}")]
    for choice in chart_choices(names):
        if (
            choice.chart in ("loss", "lr")
            or choice.chart.startswith("eval/*/")
            or choice.chart.endswith("/*")
        ):
            continue  # groups are one run's lines; here a chart holds one series of every run
        choices.append(choice)
    lrs = sorted(n for n in names if n.startswith("lr/"))
    if len(lrs) == 1:  # chart_choices folds a single group into `lr`
        choices.insert(1, Choice("lr", lrs[0], lrs[0]))
    return choices


class CompareCurves(Vertical):
    """Charts of the compared runs; a legend names each run in its colour."""

    DEFAULT_CSS = """
    CompareCurves { height: 1fr; }
    """

    log_y: reactive[bool] = reactive(False)
    x_name: reactive[str] = reactive("step")
    cursor: reactive[float | None] = reactive(None)
    """The cursor's x in the axis' units (None: hidden)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._runs: list[CompareRun] = []
        self._redraw_pending = False
        self.charts: list[str] = []
        """What the tab shows (empty until the runs are read: then the defaults or the task's choice)."""

    def compose(self) -> ComposeResult:
        yield ChartGrid()

    async def set_charts(self, charts: Sequence[str]) -> None:
        """Show `charts` instead."""
        self.charts = list(dict.fromkeys(charts))
        await self.query_one(ChartGrid).set_charts(self.charts)
        self.call_after_refresh(self.redraw)

    async def show(self, runs: list[CompareRun], charts: Sequence[str] | None = None) -> None:
        """Draw `runs` (colours follow their order) in `charts` (default: loss, lr, main metric)."""
        self._runs = runs
        wanted = list(charts) if charts else (self.charts or default_charts(runs))
        if wanted != self.charts or not self.query(CurveChart):
            await self.set_charts(wanted)
        self.redraw()

    def on_resize(self) -> None:
        """Downsample again for the new width."""
        self.redraw()

    def on_curve_plot_resized(self, message: CurvePlot.Resized) -> None:
        """A chart's size changed (a legend took a second row, say): redraw once the layout settles."""
        message.stop()
        if not self._redraw_pending:
            self._redraw_pending = True
            self.call_after_refresh(self._settled)

    def _settled(self) -> None:
        self._redraw_pending = False
        self.redraw()

    def watch_log_y(self) -> None:
        self.redraw()

    def watch_x_name(self) -> None:
        self.cursor = None
        self.redraw()

    def watch_cursor(self) -> None:
        self.redraw()

    def next_x_axis(self) -> str:
        """step → epoch → time (an axis no run can tell is skipped)."""
        i = X_AXES.index(self.x_name) if self.x_name in X_AXES else 0
        for name in X_AXES[i + 1 :] + X_AXES[: i + 1]:
            if any(self._axis(run, name).name == name for run in self._runs):
                self.x_name = name
                break
        return self.x_name

    def _axis(self, run: CompareRun, name: str) -> XAxis:
        clock = run_clock(run.info, run.clock_stamps) if name == "time" else None
        return x_axis(name, run.info, clock)

    def _positions(self) -> np.ndarray:
        """x positions the cursor moves over: the baseline's total loss (else its first charted series)."""
        for run in self._runs[:1]:
            series = run_series(run)
            for key in ("loss/total", *self.charts):
                if key in series and len(series[key][0]):
                    return self._axis(run, self.x_name).of(series[key][0])
        return np.zeros(0)

    def move_cursor(self, columns: int) -> float | None:
        """Move the cursor by `columns` plot columns (at least one point); it appears at the end."""
        xs = self._positions()
        if not len(xs):
            return None
        if self.cursor is None:
            self.cursor = float(xs[-1])
            return self.cursor
        width = max(10, self.size.width - Y_LABEL_WIDTH)
        target = self.cursor + columns * max(float(xs[-1] - xs[0]), 1e-9) / width
        i = int(np.searchsorted(xs, self.cursor))
        j = int(np.searchsorted(xs, target))
        j = max(j, i + 1) if columns > 0 and i < len(xs) and xs[i] == self.cursor else j
        j = min(j, i - 1) if columns < 0 else j
        self.cursor = float(xs[max(0, min(len(xs) - 1, j))])
        return self.cursor

    def on_curve_plot_clicked(self, message: CurvePlot.Clicked) -> None:
        xs = self._positions()
        if len(xs):
            self.cursor = float(xs[int(np.argmin(np.abs(xs - message.x)))])

    def redraw(self) -> None:
        """Replot every chart."""
        if not self.is_mounted or not self._runs:
            return
        view = self._view()
        markers = []
        for run in self._runs:
            axis = self._axis(run, self.x_name)
            markers += [
                replace(m, step=float(axis.of(np.array([m.step]))[0]))
                for m in run.markers
                if m.kind in MARKER_COLOURS
                and m.kind != "eval"  # each run's evals: the metric chart's points
            ]
        series = [run_series(run) for run in self._runs]
        charts = [(chart, self._lines(chart.chart, series)) for chart in self.query(CurveChart)]
        span = data_span([line for _, lines in charts for line in lines])  # the same x range in every chart
        for chart, lines in charts:
            if chart.chart == "loss":
                chart.title = "loss"
                chart.note = f"total, EMA {LOSS_SMOOTHING:g}"
            else:
                chart.title = chart_title(chart.chart)
            chart.draw(lines, markers, span, view=view)
        self.query_one(ChartGrid).align_legends()

    def _view(self) -> ChartView:
        """The axis of the baseline (tick labels), log y, cursor, colours."""
        axis = self._axis(self._runs[0], self.x_name)
        label = f"{axis.name} {axis.fmt(self.cursor)}" if self.cursor is not None else ""
        theme = self.app.theme_variables
        return ChartView(
            axis,
            self.log_y,
            self.cursor,
            label,
            bool(getattr(self.app, "no_color", False)),
            Color.parse(theme.get("foreground", "#e0e0e0")).rgb,
            Color.parse(theme.get("surface", "#1e1e1e")).rgb,
            self.app.current_theme.dark,
        )

    def _lines(self, chart: str, series: list[dict[str, tuple[np.ndarray, np.ndarray]]]) -> list[Line]:
        """One line per run that logged the chart's series (x in the run's own axis)."""
        key = "loss/total" if chart == "loss" else chart
        lines = []
        for i, (run, found) in enumerate(zip(self._runs, series)):
            if key not in found:
                continue
            x, y = found[key]
            shown = ema(y, LOSS_SMOOTHING) if chart == "loss" else y
            lines.append(
                Line(
                    self._label(run),
                    self._axis(run, self.x_name).of(x),
                    shown,
                    ink(self._colour(i), self.app.current_theme.dark),
                    raw=y if chart == "loss" else None,
                    style=i,
                )
            )
        return lines

    @staticmethod
    def _label(run: CompareRun) -> str:
        """The run's name, short enough for a legend."""
        return fit(run.name, LABEL_WIDTH)

    @staticmethod
    def _colour(index: int) -> tuple[int, int, int]:
        """The run's colour: its position in the compare screen."""
        return PALETTE[index % len(PALETTE)]
