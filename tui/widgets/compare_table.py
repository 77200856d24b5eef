"""The compare screen's metric table: a row per test set × metric, a column per run, deltas vs the baseline."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tui.data.compare_runs import CompareRun, MetricRow, best_index
from tui.format import fmt_duration
from tui.widgets.runs_table import fit

RUN_COLUMN_WIDTH = (18, 28)
"""Narrowest and widest run column (the value, then its delta); the table's width is shared between runs."""

BASE_TAG = " (base)"
"""After the baseline's name in its column header."""

DELTA_COLOURS = {True: ("green", "#1a7f37"), False: ("red", "#cf222e")}
"""(dark theme, light theme) colour of a delta that is better (True) or worse (False)."""


def fmt_value(value: float | None, unit: str) -> str:
    """A cell value: 85.30 (percent), 1h 05m, 25.6M params, 412.5 img/s, 2,246 MB."""
    if value is None:
        return "–"
    if unit == "seconds":
        return fmt_duration(value)
    if unit == "count":
        return f"{value / 1e6:.1f}M" if abs(value) >= 1e5 else f"{value:,.0f}"
    if unit == "rate":
        return f"{value:.1f}"
    if unit == "mb":
        return f"{value:,.0f} MB"
    return f"{value:.2f}"


def fmt_delta(delta: float, unit: str) -> str:
    """A signed delta in the row's unit: +1.20, -3m 10s, +12.5, -120 MB."""
    if unit == "seconds":
        return ("+" if delta >= 0 else "-") + fmt_duration(abs(delta))
    if unit == "count":
        return f"{delta / 1e6:+.1f}M" if abs(delta) >= 1e5 else f"{delta:+,.0f}"
    if unit == "rate":
        return f"{delta:+.1f}"
    if unit == "mb":
        return f"{delta:+,.0f} MB"
    return f"{delta:+.2f}"


def delta_style(delta: float, better: int, dark: bool = True, shown: str | None = None) -> str:
    """Green when the change is an improvement, red when a regression, dim when neutral or `shown` as zero."""
    rounds_to_zero = shown is not None and not any(ch in "123456789" for ch in shown)
    if better == 0 or delta == 0 or rounds_to_zero:
        return "dim"
    return DELTA_COLOURS[delta * better > 0][0 if dark else 1]


NOT_COMPARABLE_STYLE = ("yellow", "#9a6700")
"""(dark, light) colour of a value measured otherwise than the baseline's."""


def cell(row: MetricRow, column: int, dark: bool = True) -> Text:
    """'85.30 +1.20': the value (bold when the row's best) and its delta against the baseline; '85.30 ≠ 740 q…'
    in place of the delta when the run measured it otherwise than the baseline."""
    mark = row.marks[column] if column < len(row.marks) else None
    style = NOT_COMPARABLE_STYLE[0 if dark else 1]
    if row.texts:
        return Text(row.texts[column], style=style if mark else "dim", justify="right")
    text = Text(justify="right")
    text.append(fmt_value(row.values[column], row.unit), style="bold" if column in best_index(row) else "")
    if mark:
        text.append(f" ≠ {mark}", style=style)
        return text
    delta = row.deltas[column]
    if delta is not None:
        text.append(" ")
        shown = fmt_delta(delta, row.unit)
        text.append(shown, style=delta_style(delta, row.better, dark, shown))
    return text


class CompareTable(DataTable[Text]):
    """Rows of `MetricRow`; the first run column is the baseline."""

    DEFAULT_CSS = """
    CompareTable { height: 1fr; scrollbar-size-vertical: 1; }
    CompareTable > .datatable--header { text-style: bold; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=1, **kwargs)
        self.rows_shown: list[MetricRow] = []
        """The rows currently displayed, top to bottom."""

    def show(self, runs: list[CompareRun], rows: list[MetricRow], dark: bool = True) -> None:
        """Replace the table: `runs[0]` is the baseline."""
        self.rows_shown = rows
        self.clear(columns=True)
        width = max([len(r.label) for r in rows] + [10])
        self.add_column(Text("metric"), width=width, key="metric")
        room = (self.size.width - width - 3 - 2 * len(runs)) // max(1, len(runs))
        column = max(RUN_COLUMN_WIDTH[0], min(RUN_COLUMN_WIDTH[1], room))
        for i, run in enumerate(runs):
            label = fit(run.name, column - len(BASE_TAG)) + BASE_TAG if i == 0 else run.name
            self.add_column(Text(fit(label, column), justify="right"), width=column, key=f"run{i}")
        for n, row in enumerate(rows):
            cells = [Text(row.label, style="dim" if row.unit != "pct" else "")]
            if any(row.marks):
                cells[0].append(" ≠", style=NOT_COMPARABLE_STYLE[0 if dark else 1])
            self.add_row(*cells, *(cell(row, i, dark) for i in range(len(runs))), key=str(n))
