"""Training curves: loss (total + components, raw faint and smoothed), LR per group, grad norm, markers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Static
from textual_plotext import PlotextPlot

from tui.data.downsample import EmaState, ema_continue, minmax
from tui.data.run_snapshot import Marker, Snapshot

RGB = tuple[int, int, int]

PALETTE: tuple[RGB, ...] = (
    (86, 180, 233),
    (230, 159, 0),
    (0, 158, 115),
    (204, 121, 167),
    (240, 228, 66),
    (213, 94, 0),
    (0, 114, 178),
)
"""Okabe–Ito colours (colour-blind safe); the first is the total loss."""

MARKER_COLOURS: dict[str, RGB] = {"freeze": (170, 120, 230), "control": (229, 192, 123)}
"""Vertical markers: freeze phases purple, control changes amber."""

SMOOTHING_STEPS = (0.0, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)
"""Smoothing weights `+`/`-` step through (TensorBoard's slider, in useful notches)."""

ZOOM_LEVELS: tuple[int | None, ...] = (None, 10_000, 2_000, 500)
"""Visible span in steps: the whole run, then the last N steps (levels wider than the run are skipped)."""

REDRAW_INTERVAL = 0.5
"""Seconds between redraws at most (2 Hz); nothing is redrawn while the data is unchanged."""


@dataclass
class _Smoothed:
    """A smoothed series kept in step with its raw series (EMA is causal: appends extend it)."""

    weight: float
    n: int
    values: np.ndarray
    state: EmaState


def blend(colour: RGB, background: RGB, amount: float) -> RGB:
    """`colour` faded towards `background` (amount 0 = background, 1 = colour)."""
    return tuple(int(b + (c - b) * amount) for c, b in zip(colour, background))  # type: ignore[return-value]


def fmt_steps(x: float) -> str:
    """Axis label for a step count: 950, 12k, 1.5M."""
    if abs(x) >= 1e6:
        return f"{x / 1e6:.3g}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.0f}k"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.3g}k"
    return f"{x:.0f}"


@dataclass(frozen=True)
class Line:
    """One line of a chart: `shown` lines get a legend entry with their latest value."""

    label: str
    x: np.ndarray
    y: np.ndarray
    colour: RGB
    shown: bool = True


def nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """About `count` round tick values covering [lo, hi] (1, 2, 2.5, 5 × 10^k steps)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return [lo] if np.isfinite(lo) else []
    raw = (hi - lo) / max(1, count - 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(first, hi + step * 1e-9, step)]


def fmt_value(v: float) -> str:
    """A tick or legend value in at most 7 characters: 0.2312, 12.5, 1.5e-04."""
    a = abs(v)
    if a == 0:
        return "0"
    if a < 1e-3 or a >= 1e5:
        return f"{v:.1e}"
    return f"{v:.4g}"


class CurvePlot(PlotextPlot):
    """One plotext chart; `draw` replots downsampled lines so plotext never sees more than 2·width points."""

    DEFAULT_CSS = """
    CurvePlot { height: 1fr; width: 1fr; }
    """

    def draw(self, lines: list[Line], markers: Iterable[Marker], x_range: tuple[float, float] | None) -> bool:
        """Replot `lines` and vertical `markers` over `x_range` (None: all data); False without data."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.frame(False)
        span = x_range or _data_span(lines)
        if span is None:
            self.refresh()
            return False
        width = max(10, self.size.width - 8)  # the y labels take the rest
        ys: list[np.ndarray] = []
        for line in lines:
            xs, yv = minmax(line.x, line.y, width, span)
            if len(xs):
                plt.plot(xs.tolist(), yv.tolist(), color=line.colour, marker="braille")
                ys.append(yv)
        for m in markers:
            if span[0] <= m.step <= span[1]:
                plt.vertical_line(m.step, color=MARKER_COLOURS.get(m.kind, (150, 150, 150)))
        self._axes(span, ys)
        self.refresh()
        return bool(ys)

    def _axes(self, span: tuple[float, float], ys: list[np.ndarray]) -> None:
        """Round ticks with short labels on both axes."""
        left, right = span
        if right > left:
            self.plt.xlim(left, right)
            ticks = np.linspace(left, right, max(2, min(6, self.size.width // 12)))
            self.plt.xticks(ticks.tolist(), [fmt_steps(t) for t in ticks])
        if ys:
            values = np.concatenate(ys)
            lo, hi = float(values.min()), float(values.max())
            if hi > lo:
                self.plt.ylim(lo, hi)
                y_ticks = nice_ticks(lo, hi, max(2, min(5, self.size.height // 2)))
                self.plt.yticks(y_ticks, [fmt_value(t) for t in y_ticks])


def _data_span(lines: list[Line]) -> tuple[float, float] | None:
    """First and last step over all lines (None when empty)."""
    firsts = [float(line.x[0]) for line in lines if len(line.x)]
    lasts = [float(line.x[-1]) for line in lines if len(line.x)]
    return (min(firsts), max(lasts)) if firsts else None


class CurveChart(Vertical):
    """A legend line (coloured keys with latest values, then a note) above a CurvePlot."""

    DEFAULT_CSS = """
    CurveChart { height: 1fr; width: 1fr; }
    CurveChart > .chart-legend { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, title: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.title = title
        self.note = ""
        """Dim text after the title (the loss chart names its smoothing there)."""

    def compose(self) -> ComposeResult:
        """Legend, then plot."""
        yield Static(classes="chart-legend")
        yield CurvePlot()

    def draw(
        self,
        lines: list[Line],
        markers: Iterable[Marker],
        x_range: tuple[float, float] | None,
        loading: bool = False,
    ) -> None:
        """Replot and rewrite the legend (without line names when they do not fit)."""
        has_data = self.query_one(CurvePlot).draw(lines, markers, x_range)
        room = self.size.width - 2
        for names, values, note in (
            (True, True, True),
            (True, True, False),
            (True, False, False),
            (False, True, False),
        ):
            legend = self._legend(lines, names, values, note)
            if legend.cell_len <= room:
                break
        if not has_data:
            legend.append("  reading events…" if loading else "  no data yet", style="dim italic")
        self.query_one(".chart-legend", Static).update(legend)

    def _legend(self, lines: list[Line], names: bool, values: bool, note: bool) -> Text:
        """'loss EMA 0.9  ━ total 0.2312  ━ ce 0.1800': a coloured key, name and latest value per line."""
        legend = Text(self.title, style="bold")
        if note and self.note:
            legend.append(f" {self.note}", style="dim")
        for line in lines:
            if line.shown and len(line.y):
                legend.append("  ━", style="rgb({},{},{})".format(*line.colour))
                if names and line.label:
                    legend.append(f" {line.label}", style="dim")
                if values or not line.label:
                    legend.append(f" {fmt_value(float(line.y[-1]))}")
        return legend


class CurvesPanel(Vertical):
    """Loss on top; LR per parameter group and grad norm below. Redraws at most twice a second."""

    ALLOW_MAXIMIZE = True
    """Keys 1–4 can give the panel the whole screen."""

    DEFAULT_CSS = """
    CurvesPanel { height: 1fr; }
    CurvesPanel #loss-chart { height: 3fr; }
    CurvesPanel #curves-lower { height: 2fr; }
    """

    smoothing: reactive[float] = reactive(0.9)
    """EMA weight of the smoothed lines (0 = raw only)."""
    zoom: reactive[int | None] = reactive(None)
    """Visible span in steps at the right end of the run (None = whole run)."""

    LOSS_PREFIX: ClassVar[str] = "loss/"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._snapshot: Snapshot | None = None
        self._dirty = False
        self._smoothed: dict[str, _Smoothed] = {}

    def compose(self) -> ComposeResult:
        """The three charts."""
        yield CurveChart("loss", id="loss-chart")
        with Horizontal(id="curves-lower"):
            yield CurveChart("lr", id="lr-chart")
            yield CurveChart("grad norm", id="grad-chart")

    def on_mount(self) -> None:
        """Check for new data at most REDRAW_INTERVAL apart."""
        self.set_interval(REDRAW_INTERVAL, self._redraw_if_dirty)

    def show(self, snapshot: Snapshot) -> None:
        """New data: drawn at once the first time, then at the next tick (at most REDRAW_INTERVAL apart)."""
        first = self._snapshot is None or not self._snapshot.events_read
        if first or snapshot.version != self._snapshot.version:  # type: ignore[union-attr]
            self._snapshot = snapshot
            self._dirty = True
        if first:
            self._redraw()

    def watch_smoothing(self) -> None:
        """A new weight: recompute the smoothed lines."""
        self._smoothed.clear()
        self._redraw()

    def watch_zoom(self) -> None:
        """A new span: redraw now."""
        self._redraw()

    def on_resize(self) -> None:
        """The plots' widths changed: downsample again."""
        self._dirty = True

    def smoother(self, direction: int) -> float:
        """Step the smoothing weight up (+1) or down (-1) through SMOOTHING_STEPS; returns the new weight."""
        steps = SMOOTHING_STEPS
        i = min(range(len(steps)), key=lambda j: abs(steps[j] - self.smoothing))
        self.smoothing = steps[max(0, min(len(steps) - 1, i + direction))]
        return self.smoothing

    def next_zoom(self) -> int | None:
        """Cycle the span: whole run → last 10k → 2k → 500 steps (skipping spans wider than the run)."""
        span = self._span()
        levels = [z for z in ZOOM_LEVELS if z is None or span is None or z < span]
        i = levels.index(self.zoom) if self.zoom in levels else 0
        self.zoom = levels[(i + 1) % len(levels)]
        return self.zoom

    def _span(self) -> float | None:
        """Steps covered by the total loss (None when there is no data)."""
        snap = self._snapshot
        series = snap.scalars.get("loss/total") if snap else None
        if series is None or not len(series[0]):
            return None
        return float(series[0][-1] - series[0][0])

    # -- drawing ----------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Draw now (the theme changed, say)."""
        self._redraw()

    def _redraw_if_dirty(self) -> None:
        """The 2 Hz tick: draw only when something changed."""
        if self._dirty:
            self._redraw()

    def _redraw(self) -> None:
        """Replot the three charts from the latest snapshot."""
        self._dirty = False
        snap = self._snapshot
        if snap is None or not self.is_mounted:
            return
        x_range = self._x_range(snap)
        markers = [m for m in snap.markers if m.kind in MARKER_COLOURS]
        loss = self.query_one("#loss-chart", CurveChart)
        loss.note = f"EMA {self.smoothing:g}" if self.smoothing else "raw"
        loading = not snap.events_read
        loss.draw(self._loss_lines(snap), markers, x_range, loading)
        self.border_subtitle = self._subtitle(snap.markers)
        self.query_one("#lr-chart", CurveChart).draw(self._lr_lines(snap), markers, x_range, loading)
        grad = [Line("", *snap.scalars["grad_norm"], PALETTE[0])] if "grad_norm" in snap.scalars else []
        self.query_one("#grad-chart", CurveChart).draw(grad, markers, x_range, loading)

    def _subtitle(self, markers: Iterable[Marker]) -> str:
        """Under the panel: the zoom, then the latest markers coloured like their lines."""
        parts = [] if self.zoom is None else [f"[b]last {fmt_steps(self.zoom)} steps[/b]"]
        for m in [m for m in markers if m.kind in MARKER_COLOURS][-2:]:
            colour = "rgb({},{},{})".format(*MARKER_COLOURS[m.kind])
            parts.append(f"[{colour}]│[/] {fmt_steps(m.step)} {escape(m.label)}")
        return "  ".join(parts)

    def _x_range(self, snap: Snapshot) -> tuple[float, float] | None:
        """The visible step range for the current zoom."""
        if self.zoom is None:
            return None
        last = snap.step if snap.step is not None else 0
        return (max(0.0, last - self.zoom), float(max(last, self.zoom)))

    def _loss_lines(self, snap: Snapshot) -> list[Line]:
        """Every loss/… key: raw faint first (no legend), then smoothed bright; the total first."""
        keys = sorted(
            (k for k in snap.scalars if k.startswith(self.LOSS_PREFIX)), key=lambda k: (k != "loss/total", k)
        )
        background = self._background()
        raw, smooth = [], []
        for i, key in enumerate(keys):
            x, y = snap.scalars[key]
            colour = PALETTE[i % len(PALETTE)]
            label = key[len(self.LOSS_PREFIX) :]
            if self.smoothing > 0:
                raw.append(Line(label, x, y, blend(colour, background, 0.35), shown=False))
                smooth.append(Line(label, x, self._smooth(key, y), colour))
            else:
                smooth.append(Line(label, x, y, colour))
        return raw + smooth

    def _lr_lines(self, snap: Snapshot) -> list[Line]:
        """One line per lr/<group>."""
        keys = sorted(k for k in snap.scalars if k.startswith("lr/"))
        return [Line(k[3:], *snap.scalars[k], PALETTE[(i + 1) % len(PALETTE)]) for i, k in enumerate(keys)]

    def _smooth(self, key: str, y: np.ndarray) -> np.ndarray:
        """Smoothed `y`, extending the cached EMA over appended points only."""
        cached = self._smoothed.get(key)
        if cached is None or cached.weight != self.smoothing or cached.n > len(y):
            cached = _Smoothed(self.smoothing, 0, np.empty(0), EmaState())
        if cached.n < len(y):
            more, state = ema_continue(y[cached.n :], cached.weight, cached.state)
            cached = _Smoothed(cached.weight, len(y), np.concatenate((cached.values, more)), state)
        self._smoothed[key] = cached
        return cached.values

    def _background(self) -> RGB:
        """The plot background colour of the current theme (what faint lines fade towards)."""
        return Color.parse(self.app.theme_variables.get("surface", "#1e1e1e")).rgb
