"""Training curves: charts of any logged series (raw faint and smoothed), markers, log scale, x axes, cursor."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from rich.markup import escape
from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from tui.data.chart_series import (
    DEFAULT_CHARTS,
    REDUNDANT_CONTROL_MARKERS,
    X_AXES,
    XAxis,
    chart_keys,
    chart_title,
    flat_series,
    fmt_steps,
    line_label,
    nearest_at_or_before,
    run_clock,
    x_axis,
)
from tui.data.downsample import EmaState, ema_continue, minmax
from tui.data.oscillation import is_loss, reading
from tui.data.run_snapshot import Marker, Snapshot
from tui.widgets.braille_canvas import PLAIN, BrailleCanvas, StyleCache
from tui.widgets.quiet_update import update_quietly

__all__ = ["ChartView", "CurveChart", "CurvePlot", "CurvesPanel", "Line", "fmt_steps", "fmt_value"]

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

NO_COLOR_MARKERS: tuple[str, ...] = ("braille", "•", "+", "x", "o", "*", "#")
"""Point styles that tell series apart without colour (NO_COLOR), in legend order."""
NO_COLOR_KEYS = {"braille": "⠶"}
"""The legend key of a style whose marker is not a character."""

MARKER_COLOURS: dict[str, RGB] = {
    "freeze": (170, 120, 230),
    "control": (229, 192, 123),
    "eval": (120, 190, 120),
    "pause": (200, 110, 110),
    "resume": (200, 110, 110),
}
"""Vertical markers: freeze phases purple, control changes amber, evaluations green, pauses red."""
MARKER_TAGS = {"freeze": "freeze", "control": "set", "eval": "eval", "pause": "pause", "resume": "resume"}
"""The word at the top of a marker's line (its first letter when the word does not fit)."""

SMOOTHING_STEPS = (0.0, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)
"""Smoothing weights `+`/`-` step through (TensorBoard's slider, in useful notches)."""

ZOOM_LEVELS: tuple[int, ...] = (10_000, 2_000, 500)
"""Visible spans in steps after the whole run (levels wider than the run are skipped)."""

REDRAW_INTERVAL = 1.0
"""Seconds between redraws for new data at most (1 Hz; keys redraw at once); nothing is redrawn while the data
is unchanged. Redrawing three charts is most of what a live console costs in a real terminal."""

Y_LABEL_WIDTH = 8
"""Columns of a chart's width taken by the y tick labels and a space (what the downsampling keeps out)."""


@dataclass
class _Smoothed:
    """A smoothed series kept in step with its raw series (EMA is causal: appends extend it)."""

    weight: float
    n: int
    values: np.ndarray
    state: EmaState


def ink(colour: RGB, dark: bool) -> RGB:
    """A series or marker colour as drawn: as is on a dark background, deeper on a light one (the palette's
    yellow and sky blue would fade into it)."""
    return colour if dark else tuple(int(c * 0.7) for c in colour)  # type: ignore[return-value]


def blend(colour: RGB, background: RGB, amount: float) -> RGB:
    """`colour` faded towards `background` (amount 0 = background, 1 = colour)."""
    return tuple(int(b + (c - b) * amount) for c, b in zip(colour, background))  # type: ignore[return-value]


@dataclass(frozen=True)
class Line:
    """One line of a chart: `shown` lines get a legend entry with their latest value.

    `x` is in the chart's x units (steps, epochs or seconds); `raw` holds the unsmoothed values of a
    smoothed line (the cursor reads both).
    """

    label: str
    x: np.ndarray
    y: np.ndarray
    colour: RGB
    shown: bool = True
    raw: np.ndarray | None = None
    style: int = 0
    """Index into NO_COLOR_MARKERS (the series' place in its chart)."""
    trend: str = ""
    """A loss's reading after its latest value ('↘ improving'; tui.data.oscillation), else empty."""


@dataclass(frozen=True)
class ChartView:
    """How every chart of a panel is drawn: x axis, log y, cursor, colour."""

    axis: XAxis = field(default_factory=lambda: XAxis("step"))
    log_y: bool = False
    cursor: float | None = None
    """The cursor's x (in the axis' units), None when hidden."""
    cursor_label: str = ""
    """What the readout says the cursor is at: 'step 1,200'."""
    no_color: bool = False
    foreground: RGB = (200, 200, 200)
    background: RGB = (30, 30, 30)
    """The plot's background (marker tags are drawn on it)."""
    dark: bool = True
    """A dark theme; a light one gets deeper colours (see `ink`)."""


def nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """About `count` round tick values covering [lo, hi] (1, 2, 2.5, 5 × 10^k steps)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return [lo] if np.isfinite(lo) else []
    raw = (hi - lo) / max(1, count - 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(first, hi + step * 1e-9, step)]


def readable_ticks(lo: float, hi: float, count: int) -> list[float]:
    """At least three round ticks within [lo, hi] (the range is widened to hold them when too narrow)."""
    ticks = nice_ticks(lo, hi, max(3, count))
    while len(ticks) < 3 and hi > lo:
        count += 1
        ticks = nice_ticks(lo, hi, count)
        if count > 12:
            return [lo, (lo + hi) / 2, hi]
    return ticks


def three_ticks(lo: float, hi: float) -> list[float]:
    """Three evenly spaced round ticks from below `lo` to above `hi` (the axis then spans exactly them, so
    each lands on a row of its own even in a plot three rows high)."""
    raw = (hi - lo) / 2
    mag = 10 ** np.floor(np.log10(raw))
    for m in (1, 2, 2.5, 5, 10, 20, 25, 50):
        step = float(m * mag)
        first = float(np.floor(lo / step) * step)
        if first + 2 * step >= hi - 1e-9 * abs(step):
            break
    return [first, first + step, first + 2 * step]


def fmt_value(v: float, digits: int = 4) -> str:
    """A tick or legend value in at most 7 characters: 0.2312, 12.5, 1.5e-04 (`digits` significant)."""
    a = abs(v)
    if a == 0:
        return "0"
    if not np.isfinite(v):
        return str(v)
    if a < 1e-3 or a >= 1e5:
        return f"{v:.{max(0, digits - 3)}e}"
    if a >= 10**digits:  # 1234 rather than 1.2e+03
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def fmt_exact(v: float) -> str:
    """A cursor readout value: as many digits as the log has (up to 7 significant)."""
    return f"{v:.7g}"


def _log_ticks(lo: float, hi: float, count: int) -> tuple[list[float], list[str]]:
    """Ticks of a log10 axis spanning [lo, hi] (in log10 units) at round values (decades, else 1-2-5, else
    every digit), labelled with the values themselves."""
    ticks: list[float] = []
    for mantissas in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        decades = range(int(np.floor(lo)), int(np.ceil(hi)) + 1)
        ticks = [float(np.log10(m)) + d for d in decades for m in mantissas]
        ticks = [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]
        if len(ticks) >= 3:
            break
    if len(ticks) < 3:
        ticks = readable_ticks(lo, hi, count)
    if len(ticks) > count + 1:  # thin evenly, keeping both ends
        ticks = [ticks[round(i)] for i in np.linspace(0, len(ticks) - 1, count)]
    return ticks, [fmt_value(10**t, 2) for t in ticks]


class CurvePlot(Widget):
    """One chart: y tick labels, a braille plot area (lines downsampled to two points a column), x tick labels.

    `draw` renders every row once into strips; Textual's refreshes between draws only copy them.
    """

    DEFAULT_CSS = """
    CurvePlot { height: 1fr; width: 1fr; }
    """

    class Resized(Message):
        """The chart's size changed: its ticks and downsampling must follow."""

    def on_resize(self) -> None:
        self.post_message(self.Resized())

    class Clicked(Message):
        """The chart was clicked at x (in the chart's x units)."""

        def __init__(self, x: float) -> None:
            super().__init__()
            self.x = x

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._frame: tuple[int, float, float] | None = None  # (y label columns, left x, right x)
        self.drawn_size = self.size
        """The size the last draw was made for (ticks and downsampling depend on it)."""
        self.marker_columns: list[tuple[float, int]] = []
        """(x, column) of each marker drawn, for tests: the same step sits at the same column everywhere."""
        self._strips: list[Strip] = []
        self._styles = StyleCache()
        self._canvas: BrailleCanvas | None = None

    def draw(
        self,
        lines: list[Line],
        markers: Iterable[Marker],
        x_range: tuple[float, float] | None,
        view: ChartView | None = None,
    ) -> bool:
        """Replot `lines` and vertical `markers` (x in the lines' units) over `x_range` (None: all data)."""
        view = view or ChartView()
        self.drawn_size = self.size
        self.marker_columns = []
        span = x_range or data_span(lines)
        if span is None or self.size.width <= Y_LABEL_WIDTH or self.size.height < 2:
            self._frame = None
            self._strips = []
            self.refresh()
            return False
        left, right = span
        if right <= left:
            left, right = left - 1, right + 1
        width = self._plot_columns()
        points: list[tuple[Line, np.ndarray, np.ndarray]] = []
        for line in lines:
            xs, yv = minmax(line.x, line.y, width, span)
            if view.log_y:
                positive = yv > 0
                xs, yv = xs[positive], np.log10(yv[positive])
            if len(xs):
                points.append((line, xs, yv))
        y_ticks, y_labels, (lo, hi) = self._y_axis([yv for _, _, yv in points], view)
        self._frame = (Y_LABEL_WIDTH, left, right)
        self._canvas = BrailleCanvas(width, self.size.height - 1, (left, right), (lo, hi))
        self._markers(list(markers), (left, right), view)
        if view.cursor is not None and left <= view.cursor <= right:
            self._canvas.vertical(view.cursor, view.foreground)
        for line, xs, yv in points:
            marker = NO_COLOR_MARKERS[line.style % len(NO_COLOR_MARKERS)] if view.no_color else "braille"
            self.plot_line(xs, yv, line.colour, marker)
        self._canvas.words.reverse()  # markers drew right to left; the leftmost word wins an overlap
        self._strips = self._frame_rows(self._canvas.strips(self._styles), y_ticks, y_labels, (lo, hi), view)
        self.refresh()
        return bool(points)

    def plot_line(self, x: np.ndarray, y: np.ndarray, colour: RGB, marker: str) -> None:
        """Draw one line on the chart being drawn (`marker`: braille, or a point character for NO_COLOR)."""
        if self._canvas is not None:
            self._canvas.line(x, y, colour, marker)

    def render_line(self, y: int) -> Strip:
        """A row as drawn last (blank before the first draw)."""
        width = self.size.width
        if y < len(self._strips):
            return self._strips[y].adjust_cell_length(width, PLAIN)
        return Strip.blank(width, PLAIN)

    def _y_axis(
        self, ys: list[np.ndarray], view: ChartView
    ) -> tuple[list[float], list[str], tuple[float, float]]:
        """Round ticks with short labels (three at least) and the y range drawn."""
        values = np.concatenate(ys) if ys else np.zeros(0)
        lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        if hi <= lo:  # a constant (an LR that never moves): centre it
            pad = abs(lo) * 0.1 if lo else 1.0
            lo, hi = lo - pad, hi + pad
        rows = self.size.height - 1  # the last row holds the x labels
        count = max(3, min(5, rows // 3))  # two rows apart at least: labels never share a row
        if rows < 2 * 3:  # too short for round ticks to land on rows of their own: three that do
            y_ticks = three_ticks(lo, hi)
            labels = [fmt_value(10**t, 2) if view.log_y else fmt_value(t) for t in y_ticks]
        elif view.log_y:
            y_ticks, labels = _log_ticks(lo, hi, count)
        else:
            y_ticks = readable_ticks(lo, hi, count)
            labels = [fmt_value(t) for t in y_ticks]
        return y_ticks, labels, (min(lo, *y_ticks), max(hi, *y_ticks))

    def _frame_rows(
        self,
        plot: list[Strip],
        y_ticks: list[float],
        y_labels: list[str],
        y_range: tuple[float, float],
        view: ChartView,
    ) -> list[Strip]:
        """The plot rows behind their y labels, then the row of x labels."""
        rows = len(plot)
        lo, hi = y_range
        label_at: dict[int, str] = {}
        for tick, label in zip(y_ticks, y_labels):
            row = round((hi - tick) / (hi - lo) * (rows - 1)) if hi > lo else 0
            label_at.setdefault(row, label)
        out = []
        for r, strip in enumerate(plot):
            label = label_at.get(r, "")[: Y_LABEL_WIDTH - 1].rjust(Y_LABEL_WIDTH - 1) + " "
            out.append(Strip.join([Strip([Segment(label, PLAIN)], Y_LABEL_WIDTH), strip]))
        out.append(self._x_labels(view))
        return out

    def _x_labels(self, view: ChartView) -> Strip:
        """Round x ticks under their columns, centred, none overlapping its neighbour."""
        assert self._canvas is not None and self._frame is not None
        _, left, right = self._frame
        count = max(2, min(6, self.size.width // 12))
        ticks = nice_ticks(left, right, count) if view.axis.name != "time" else []
        if len(ticks) < 2:
            ticks = np.linspace(left, right, count).tolist()
        width = self.size.width
        row = [" "] * width
        free_from = 0
        for tick in ticks:
            label = view.axis.fmt(tick)
            centre = Y_LABEL_WIDTH + self._canvas.column_of(tick)
            start = min(max(centre - len(label) // 2, Y_LABEL_WIDTH), width - len(label))
            if start < free_from or start < 0:
                continue
            row[start : start + len(label)] = label
            free_from = start + len(label) + 1
        return Strip([Segment("".join(row), PLAIN)], width)

    def _markers(self, markers: list[Marker], span: tuple[float, float], view: ChartView) -> None:
        """A vertical line per marker in view, with its tag on the top row where it does not overlap."""
        assert self._canvas is not None
        left, right = span
        columns = self._plot_columns()
        inside = [m for m in markers if left <= m.step <= right]
        free_from = -1
        for m in sorted(inside, key=lambda m: m.step):
            colour = ink(MARKER_COLOURS.get(m.kind, (150, 150, 150)), view.dark)
            self._canvas.vertical(m.step, colour)
            column = self._canvas.column_of(m.step)
            self.marker_columns.append((m.step, column))
            if column <= free_from:
                continue
            word = MARKER_TAGS.get(m.kind, m.kind)
            tag_colour = view.foreground if view.no_color else colour
            align: Literal["left", "right"]
            if column + len(word) + 1 < columns:
                tag, align, end = word, "left", column + len(word) + 1
            elif column - len(word) > free_from:  # at the right edge: the tag ends at the line
                tag, align, end = word, "right", column + 1
            elif column + 1 < columns:
                tag, align, end = word[:1], "left", column + 2
            else:
                continue
            self._canvas.word(m.step, tag, tag_colour, view.background, align)
            free_from = end

    def _plot_columns(self) -> int:
        """Columns of the drawing area (the width less the y labels)."""
        return max(1, self.size.width - Y_LABEL_WIDTH)

    def x_at(self, column: int) -> float | None:
        """The x drawn at a column of this widget (None outside the drawing area or before a draw)."""
        if self._frame is None:
            return None
        labels, left, right = self._frame
        columns = self._plot_columns()
        inner = column - labels
        if not 0 <= inner < columns:
            return None
        return left + (right - left) * inner / max(1, columns - 1)

    def on_click(self, event: events.Click) -> None:
        """Put the cursor where the chart was clicked (terminals that report the mouse)."""
        x = self.x_at(event.x)
        if x is not None:
            self.post_message(self.Clicked(x))


def data_span(lines: list[Line]) -> tuple[float, float] | None:
    """First and last x over all lines (None when empty)."""
    firsts = [float(line.x[0]) for line in lines if len(line.x)]
    lasts = [float(line.x[-1]) for line in lines if len(line.x)]
    return (min(firsts), max(lasts)) if firsts else None


class CurveChart(Vertical):
    """A legend (keys with names and latest values, or the values at the cursor) above a CurvePlot."""

    DEFAULT_CSS = """
    CurveChart { height: 1fr; width: 1fr; }
    CurveChart > .chart-legend { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, title: str, chart: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.title = title
        self.chart = chart
        """The chart's name in the series catalogue (`loss`, `eval/*/R@1`, …)."""
        self.note = ""
        """Dim text after the title (the loss chart names its smoothing there)."""
        self.legend_lines = 1
        """Rows the legend takes: 2 when names and values need them."""

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
        view: ChartView | None = None,
    ) -> None:
        """Replot and rewrite the legend: decimals go first when room is short, then values, names last."""
        view = view or ChartView()
        plots = self.query(CurvePlot)
        if not plots:  # a chart added by `g` whose children are not mounted yet: drawn at the next tick
            return
        has_data = plots.first().draw(lines, markers, x_range, view)
        room = max(10, self.size.width - 2)
        fits = None
        fallbacks = LEGEND_FALLBACKS if view.cursor is None else CURSOR_FALLBACKS
        for rows, digits, names, values, note, trends in fallbacks:
            fits = _pack(self._entries(lines, view, digits, names, values, note, trends), room, rows)
            if fits is not None:
                break
        legend = fits if fits is not None else _join(self._entries(lines, view, 2, True, False, False), room)
        if not has_data:
            legend.append("  reading events…" if loading else "  no data yet", style="dim italic")
        rows = legend.plain.count("\n") + 1
        widget = self.query_one(".chart-legend", Static)
        self.legend_lines = rows  # the grid sets the height: the same for charts side by side
        update_quietly(widget, legend, extent=rows)

    def _entries(
        self,
        lines: list[Line],
        view: ChartView,
        digits: int,
        names: bool,
        values: bool,
        note: int,
        trends: bool = False,
    ) -> list[Text]:
        """The title, then 'key name value trend' per shown line (values at the cursor when there is one)."""
        title = Text(self.title, style="bold")
        text = self.note if note == 2 else self.note.split(" · ")[0] if note == 1 else ""
        if text:
            title.append(f" {text}", style="dim")
        if view.cursor is not None:
            title.append(f" @ {view.cursor_label}", style="bold")
        entries = [title]
        for line in lines:
            if not (line.shown and len(line.y)):
                continue
            entry = Text()
            if view.no_color:
                marker = NO_COLOR_MARKERS[line.style % len(NO_COLOR_MARKERS)]
                entry.append(NO_COLOR_KEYS.get(marker, marker))
            else:
                entry.append("━", style="rgb({},{},{})".format(*line.colour))
            if names and line.label:
                entry.append(f" {line.label}", style="dim")
            if view.cursor is not None:
                i = nearest_at_or_before(line.x, view.cursor)
                if i is not None and (values or not line.label):
                    exact = fmt_exact if digits >= 4 else fmt_value  # the readout's digits go last
                    entry.append(f" {exact(float(line.y[i]))}")
                    if line.raw is not None:
                        entry.append(f" (raw {exact(float(line.raw[i]))})", style="dim")
            elif values or not line.label:
                entry.append(f" {fmt_value(float(line.y[-1]), digits)}")
            if trends and line.trend and view.cursor is None:
                entry.append(f" {line.trend}", style="bold" if line.trend.endswith("diverging") else "")
            entries.append(entry)
        return entries


_LEGEND_STAGES = (
    (1, 4, True, True, 2),
    (1, 4, True, True, 1),
    (1, 2, True, True, 1),
    (2, 4, True, True, 2),
    (2, 2, True, True, 1),
    (1, 2, True, True, 0),
    (2, 2, True, True, 0),
    (3, 2, True, True, 0),
)
LEGEND_FALLBACKS = (
    *((*stage, True) for stage in _LEGEND_STAGES),
    *((*stage, False) for stage in _LEGEND_STAGES),
    (2, 2, True, False, 0, False),
    (2, 2, False, True, 0, False),
)
"""(rows, significant digits, names, values, note: 2 whole, 1 short, 0 none, loss trend words) a legend tries
in turn: decimals go first, then a second (and third) row, then the trend words, then values; names last."""
CURSOR_FALLBACKS = (
    (1, 4, True, True, 1, False),
    (2, 4, True, True, 1, False),
    (3, 4, True, True, 0, False),
    (2, 2, True, True, 0, False),
    (3, 2, True, True, 0, False),
    (3, 2, True, False, 0, False),
    (3, 2, False, True, 0, False),
)
"""The cursor's readout keeps every digit logged (4: up to 7 significant) over a row; 2 means 4 digits. No
trend words: they read the end of the curve, not the cursor's step."""


def _pack(entries: list[Text], room: int, rows: int) -> Text | None:
    """Entries two spaces apart on at most `rows` lines of `room` cells (None when they do not fit)."""
    lines: list[Text] = [Text()]
    for entry in entries:
        if entry.cell_len > room:
            return None
        current = lines[-1]
        if current.cell_len and current.cell_len + 2 + entry.cell_len > room:
            lines.append(Text())
            current = lines[-1]
        if current.cell_len:
            current.append("  ")
        current.append_text(entry)
    if len(lines) > rows:
        return None
    return Text("\n").join(lines)


def _join(entries: list[Text], room: int) -> Text:
    """Entries on one line, cut by the widget's ellipsis when they overflow."""
    return Text("  ").join(entries)


def _slug(chart: str) -> str:
    """A widget id for a chart: loss-chart, eval___R_1-chart."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", chart) + "-chart"


def chart_rows(charts: Sequence[str], per_row: int = 2) -> list[list[str]]:
    """The first chart alone on top, the others `per_row` to a row below it."""
    charts = list(charts)
    rows = [charts[:1]] if charts else []
    rest = charts[1:]
    rows += [rest[i : i + per_row] for i in range(0, len(rest), per_row)]
    return rows


class ChartGrid(Vertical):
    """Charts laid out as `chart_rows` says: the first tall, the rest two to a row."""

    DEFAULT_CSS = """
    ChartGrid { height: 1fr; }
    ChartGrid > .chart-row { height: 2fr; }
    ChartGrid > .chart-row.-first { height: 3fr; }
    """

    def compose_charts(self, charts: Sequence[str]) -> list[Horizontal]:
        """The rows of charts (to mount)."""
        rows = []
        for i, row in enumerate(chart_rows(charts)):
            box = Horizontal(
                *(CurveChart(chart_title(c), chart=c, id=_slug(c)) for c in row),
                classes="chart-row -first" if i == 0 else "chart-row",
            )
            rows.append(box)
        return rows

    async def set_charts(self, charts: Sequence[str]) -> None:
        """Replace the charts shown."""
        await self.remove_children()
        await self.mount_all(self.compose_charts(charts))

    def align_legends(self) -> None:
        """Charts side by side get legends of the same height, so that their plots line up."""
        for row in self.query(".chart-row"):
            charts = list(row.query(CurveChart))
            rows = max((c.legend_lines for c in charts), default=1)
            for chart in charts:
                legend = chart.query_one(".chart-legend")
                if legend.styles.height is None or legend.styles.height.value != rows:
                    legend.styles.height = rows


def _zoom_levels(span: float | None) -> list[int | None]:
    """Whole run, then the fixed spans shorter than the run; a short run gets its last half and quarter."""
    if span is None or span <= 0:
        return [None]
    levels: list[int | None] = [None, *(z for z in ZOOM_LEVELS if z < span)]
    if len(levels) < 3:
        extra = [int(span // 2), int(span // 4)]
        levels += [z for z in extra if z >= 2 and z not in levels and all(z < (lv or span) for lv in levels)]
    return levels


def thin_evals(markers: list[Marker], x_range: tuple[float, float] | None, width: int) -> list[Marker]:
    """Without routine evaluations when more of them are in view than the narrowest chart shows legibly
    (one per 10 columns): they would hide the curves. The same markers go to every chart."""
    if x_range is None:
        return markers
    evals = sum(m.kind == "eval" and x_range[0] <= m.step <= x_range[1] for m in markers)
    if evals > max(3, (width - Y_LABEL_WIDTH) // 10):
        return [m for m in markers if m.kind != "eval"]
    return markers


def _smoothable(key: str) -> bool:
    """Training scalars are smoothed; evaluations, gauges and learning rates are drawn as logged."""
    return not key.startswith(("eval/", "system/", "lr/"))


class CurvesPanel(Vertical):
    """The monitor's charts: any logged series the researcher picks. Redraws at most twice a second."""

    ALLOW_MAXIMIZE = True
    """Keys 1–4 can give the panel the whole screen."""

    DEFAULT_CSS = """
    CurvesPanel { height: 1fr; }
    """

    smoothing: reactive[float] = reactive(0.9)
    """EMA weight of the smoothed lines (0 = raw only)."""
    zoom: reactive[int | None] = reactive(None)
    """Visible span in steps at the right end of the run (None = whole run)."""
    log_y: reactive[bool] = reactive(False)
    """Log scale on every chart's y axis (non-positive values are left out)."""
    x_name: reactive[str] = reactive("step")
    """What the x axis counts: step, epoch or time."""
    cursor: reactive[float | None] = reactive(None)
    """The cursor's step (None: hidden); every chart reads its series there."""

    def __init__(self, charts: Sequence[str] = DEFAULT_CHARTS, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.charts = list(charts)
        """What the panel shows (names from tui.data.chart_series)."""
        self._snapshot: Snapshot | None = None
        self._dirty = False
        self._drawn_at = 0.0
        """time.monotonic() of the last draw (draws are REDRAW_INTERVAL apart at most)."""
        self._smoothed: dict[str, _Smoothed] = {}
        self._trends: dict[str, tuple[int, str]] = {}
        """Loss key -> (points read, its trend label): read again only when the series grew."""

    def compose(self) -> ComposeResult:
        """The charts."""
        grid = ChartGrid()
        with grid:
            yield from grid.compose_charts(self.charts)

    def on_mount(self) -> None:
        """Check for new data at most REDRAW_INTERVAL apart."""
        self.set_interval(REDRAW_INTERVAL, self._redraw_if_dirty)

    async def set_charts(self, charts: Sequence[str]) -> None:
        """Show `charts` instead (the picker's answer)."""
        self.charts = list(dict.fromkeys(charts)) or list(DEFAULT_CHARTS)
        await self.query_one(ChartGrid).set_charts(self.charts)
        self.call_after_refresh(self._redraw)

    def show(self, snapshot: Snapshot) -> None:
        """New data: drawn at once the first time, then at the next tick (at most REDRAW_INTERVAL apart)."""
        first = self._snapshot is None or not self._snapshot.events_read
        if first or snapshot.version != self._snapshot.version:  # type: ignore[union-attr]
            self._snapshot = snapshot
            self._dirty = True
        # drawn with the rest of the monitor's update when due (one frame), else at the next tick
        if first or (self._dirty and time.monotonic() - self._drawn_at >= 0.8 * REDRAW_INTERVAL):
            self._redraw()

    def watch_smoothing(self) -> None:
        """A new weight: recompute the smoothed lines."""
        self._smoothed.clear()
        self._redraw()

    def watch_zoom(self) -> None:
        """A new span: redraw now."""
        self._redraw()

    def watch_log_y(self) -> None:
        self._redraw()

    def watch_x_name(self) -> None:
        self._redraw()

    def watch_cursor(self) -> None:
        self._redraw()

    def on_resize(self) -> None:
        """The plots' widths changed: downsample again."""
        self._dirty = True

    def on_curve_plot_resized(self, message: CurvePlot.Resized) -> None:
        """A chart's size changed (a legend took a second row, say): redraw at the next tick."""
        message.stop()
        self._dirty = True
        self.call_after_refresh(self._redraw_if_dirty, True)  # once the layout settled, not at the next tick

    def smoother(self, direction: int) -> float:
        """Step the smoothing weight up (+1) or down (-1) through SMOOTHING_STEPS; returns the new weight."""
        steps = SMOOTHING_STEPS
        i = min(range(len(steps)), key=lambda j: abs(steps[j] - self.smoothing))
        self.smoothing = steps[max(0, min(len(steps) - 1, i + direction))]
        return self.smoothing

    def next_zoom(self) -> int | None:
        """Cycle the span: whole run → last 10k → 2k → 500 steps (a short run: its last half, quarter)."""
        levels = _zoom_levels(self.span())
        i = levels.index(self.zoom) if self.zoom in levels else 0
        self.zoom = levels[(i + 1) % len(levels)]
        return self.zoom

    def next_x_axis(self) -> str:
        """step → epoch → time (an axis the run cannot tell is skipped); returns the new axis."""
        snap = self._snapshot
        i = X_AXES.index(self.x_name) if self.x_name in X_AXES else 0
        for name in X_AXES[i + 1 :] + X_AXES[: i + 1]:
            if snap is None or self._axis(snap, name).name == name:
                self.x_name = name
                break
        return self.x_name

    def span(self) -> float | None:
        """Steps covered by the data (None when there is none)."""
        steps = self._steps()
        return float(steps[-1] - steps[0]) if len(steps) else None

    def _steps(self) -> np.ndarray:
        """The steps the cursor moves over: the total loss's, else the first charted series'."""
        snap = self._snapshot
        if snap is None:
            return np.zeros(0)
        if "loss/total" in snap.scalars and len(snap.scalars["loss/total"][0]):
            return snap.scalars["loss/total"][0]
        series = flat_series(snap.scalars, snap.system, snap.evals)
        for chart in self.charts:
            for key in chart_keys(chart, series):
                if len(series[key][0]):
                    return series[key][0]
        return np.zeros(0)

    def move_cursor(self, columns: int) -> float | None:
        """Move the cursor by `columns` plot columns (at least one logged point); it appears at the end."""
        steps = self._steps()
        if not len(steps):
            return None
        if self.cursor is None:
            self.cursor = float(steps[-1])
            return self.cursor
        x_range = self._x_range(self._snapshot) if self._snapshot else None
        lo, hi = x_range or (float(steps[0]), float(steps[-1]))
        width = max(10, self.size.width - Y_LABEL_WIDTH)
        target = self.cursor + columns * max(hi - lo, 1.0) / width
        i = int(np.searchsorted(steps, self.cursor))
        j = int(np.searchsorted(steps, target))
        if columns > 0:
            j = max(j, i + 1) if i < len(steps) and steps[i] == self.cursor else j
        else:
            j = min(j, i - 1)
        self.cursor = float(steps[max(0, min(len(steps) - 1, j))])
        return self.cursor

    def cursor_at_x(self, x: float) -> None:
        """Put the cursor on the logged step nearest to x (in the current axis' units)."""
        snap = self._snapshot
        steps = self._steps()
        if snap is None or not len(steps):
            return
        xs = self._axis(snap, self.x_name).of(steps)
        self.cursor = float(steps[int(np.argmin(np.abs(xs - x)))])

    def cursor_at_step(self, step: float) -> None:
        """Put the cursor on the logged step nearest to `step`."""
        steps = self._steps()
        if len(steps):
            self.cursor = float(steps[int(np.argmin(np.abs(steps - step)))])

    def on_curve_plot_clicked(self, message: CurvePlot.Clicked) -> None:
        self.cursor_at_x(message.x)

    # -- drawing ----------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Draw now (the theme changed, say)."""
        self._redraw()

    def _redraw_if_dirty(self, at_once: bool = False) -> None:
        """The tick: draw only when something changed and no update drew it just now (`at_once`: whenever)."""
        if self._dirty and (at_once or time.monotonic() - self._drawn_at >= 0.8 * REDRAW_INTERVAL):
            self._redraw()

    def markers(self) -> list[Marker]:
        """Every marker of the run, in step order (freeze, control, evaluation, pause, resume)."""
        snap = self._snapshot
        if snap is None:
            return []
        found = [
            m
            for m in (*snap.markers, *snap.timeline)
            if m.kind in MARKER_COLOURS and not (m.kind == "control" and m.label in REDUNDANT_CONTROL_MARKERS)
        ]
        return sorted(found, key=lambda m: m.step)

    def _axis(self, snap: Snapshot, name: str) -> XAxis:
        stamps = zip(snap.clock_stamps[0].tolist(), snap.clock_stamps[1].tolist())
        clock = run_clock(snap.info, stamps) if name == "time" else None
        return x_axis(name, snap.info, clock)

    def view(self, snap: Snapshot) -> ChartView:
        """How the charts are drawn now."""
        axis = self._axis(snap, self.x_name)
        cursor = None if self.cursor is None else float(axis.of(np.array([self.cursor]))[0])
        label = ""
        if self.cursor is not None:
            label = f"step {self.cursor:,.0f}"
            if axis.name != "step":
                label += f" ({axis.name} {axis.fmt(cursor or 0.0)})"
        no_color = bool(getattr(self.app, "no_color", False))
        foreground = Color.parse(self.app.theme_variables.get("foreground", "#e0e0e0")).rgb
        dark = self.app.current_theme.dark
        return ChartView(axis, self.log_y, cursor, label, no_color, foreground, self._background(), dark)

    def _redraw(self) -> None:
        """Replot every chart from the latest snapshot."""
        self._dirty = False
        snap = self._snapshot
        if snap is None or not self.is_mounted:
            return
        view = self.view(snap)
        x_range = self._x_range(snap)
        if x_range is not None:
            x_range = (
                float(view.axis.of(np.array([x_range[0]]))[0]),
                float(view.axis.of(np.array([x_range[1]]))[0]),
            )
        markers = [replace(m, step=float(view.axis.of(np.array([m.step]))[0])) for m in self.markers()]
        series = flat_series(snap.scalars, snap.system, snap.evals)
        loading = not snap.events_read
        charts = [(chart, self._lines(chart.chart, series, view)) for chart in self.query(CurveChart)]
        if x_range is None:  # one span for every chart: a step sits at the same column in each
            x_range = data_span([line for _, lines in charts for line in lines])
        markers = thin_evals(markers, x_range, min((c.size.width for c, _ in charts), default=0))
        for chart, lines in charts:
            smoothable = any(_smoothable(k) for k in chart_keys(chart.chart, series))
            chart.note = self._smoothing_note(view) if smoothable else ""
            chart.draw(lines, markers, x_range, loading, view)
        self.query_one(ChartGrid).align_legends()
        subtitle = self._subtitle()
        if subtitle != self.border_subtitle:  # each set repaints the panel's border
            self.border_subtitle = subtitle
        self._drawn_at = time.monotonic()

    def _smoothing_note(self, view: ChartView) -> str:
        """Raw vs smoothed, said: 'EMA 0.9 · raw faint', 'raw'."""
        if not self.smoothing:
            return "raw"
        return f"EMA {self.smoothing:g}" + (" · raw at the cursor" if view.no_color else " · raw faint")

    def _subtitle(self) -> str:
        """Under the panel: axis, log, zoom, then the latest markers coloured like their lines."""
        parts = []
        if self.x_name != "step":
            parts.append(f"[b]x {self.x_name}[/b]")
        if self.log_y:
            parts.append("[b]log y[/b]")
        if self.zoom is not None:
            parts.append(f"[b]last {fmt_steps(self.zoom)} steps[/b]")
        for m in self.markers()[-2:]:
            colour = "rgb({},{},{})".format(*MARKER_COLOURS[m.kind])
            parts.append(f"[{colour}]│[/] {fmt_steps(m.step)} {escape(m.label)}")
        return "  ".join(parts)

    def _x_range(self, snap: Snapshot) -> tuple[float, float] | None:
        """The visible step range for the current zoom."""
        if self.zoom is None:
            return None
        last = snap.step if snap.step is not None else 0
        return (max(0.0, last - self.zoom), float(max(last, self.zoom)))

    def _lines(
        self, chart: str, series: dict[str, tuple[np.ndarray, np.ndarray]], view: ChartView
    ) -> list[Line]:
        """A chart's lines: smoothed bright over raw faint for training scalars, raw for evals and gauges."""
        keys = chart_keys(chart, series)
        background = self._background()
        raw, shown = [], []
        for i, key in enumerate(keys):
            steps, y = series[key]
            x = view.axis.of(steps)
            colour = ink(PALETTE[(i + (1 if chart == "lr" else 0)) % len(PALETTE)], view.dark)
            label = line_label(chart, key)
            trend = self._trend(key, steps, y)
            if self.smoothing > 0 and _smoothable(key):
                if not view.no_color:
                    raw.append(Line(label, x, y, blend(colour, background, 0.35), shown=False, style=i))
                shown.append(Line(label, x, self._smooth(key, y), colour, raw=y, style=i, trend=trend))
            else:
                shown.append(Line(label, x, y, colour, style=i, trend=trend))
        return raw + shown

    def _trend(self, key: str, steps: np.ndarray, y: np.ndarray) -> str:
        """A loss's trend label ('↘ improving'; '' for other series and short ones), read on its last window
        of raw points and only when new points came (a few numpy operations per loss per redraw at most)."""
        if not is_loss(key):
            return ""
        cached = self._trends.get(key)
        if cached is None or cached[0] != len(y):
            found = reading(steps, y)
            cached = (len(y), found.label if found is not None else "")
            self._trends[key] = cached
        return cached[1]

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
