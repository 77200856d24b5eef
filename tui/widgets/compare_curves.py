"""The compare screen's overlaid curves: loss, learning rate and the main eval metric, one colour per run."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from tui.data.compare_runs import CompareRun, lr_key, main_eval
from tui.data.downsample import ema
from tui.widgets.curves import PALETTE, CurveChart, Line
from tui.widgets.runs_table import fit

LOSS_SMOOTHING = 0.9
"""EMA weight of the overlaid loss curves (raw losses of several runs are unreadable on top of each other)."""
LABEL_WIDTH = 16
"""Longest run name in a legend."""


class CompareCurves(Vertical):
    """Loss on top; LR and the main eval metric below; a legend names each run in its colour."""

    DEFAULT_CSS = """
    CompareCurves { height: 1fr; }
    CompareCurves #cmp-loss { height: 1fr; }
    CompareCurves #cmp-lower { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._runs: list[CompareRun] = []

    def compose(self) -> ComposeResult:
        """The three charts."""
        yield CurveChart("loss", id="cmp-loss")
        with Horizontal(id="cmp-lower"):
            yield CurveChart("lr", id="cmp-lr")
            yield CurveChart("metric", id="cmp-metric")

    def show(self, runs: list[CompareRun]) -> None:
        """Draw `runs` (colours follow their order)."""
        self._runs = runs
        self.redraw()

    def on_resize(self) -> None:
        """Downsample again for the new width."""
        self.redraw()

    def redraw(self) -> None:
        """Replot the three charts."""
        if not self.is_mounted or not self._runs:
            return
        markers = [m for run in self._runs for m in run.markers]
        loss = self.query_one("#cmp-loss", CurveChart)
        loss.note = f"total, EMA {LOSS_SMOOTHING:g}"
        loss.draw(self._lines("loss/total", smooth=True), markers, None)
        key = lr_key(self._runs)
        lr = self.query_one("#cmp-lr", CurveChart)
        lr.title = key or "lr"
        lr.draw(self._lines(key) if key else [], markers, None)
        self._draw_metric(markers)

    def _draw_metric(self, markers: list) -> None:
        """The main eval metric of the first split, per run."""
        chart = self.query_one("#cmp-metric", CurveChart)
        found = main_eval(self._runs)
        if found is None:
            chart.title = "eval"
            chart.draw([], markers, None)
            return
        chart.title = f"{found[1]} {found[0]}"
        lines = [
            Line(self._label(run), *run.evals[found], self._colour(i))
            for i, run in enumerate(self._runs)
            if found in run.evals
        ]
        chart.draw(lines, markers, None)

    def _lines(self, key: str, smooth: bool = False) -> list[Line]:
        """One line per run that logged `key`."""
        lines = []
        for i, run in enumerate(self._runs):
            if key in run.scalars:
                x, y = run.scalars[key]
                lines.append(
                    Line(self._label(run), x, ema(y, LOSS_SMOOTHING) if smooth else y, self._colour(i))
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
