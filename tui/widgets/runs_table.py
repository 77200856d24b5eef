"""The runs table: sortable, filterable, width-aware columns of `RunRow`s with live spinners and durations."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.widgets import DataTable

from tui.data.run_filter import RunFilter
from tui.data.run_index import RunRow
from tui.format import fmt_duration, fmt_metric, fmt_progress, fmt_started
from tui.widgets.status_badge import SPINNER_FPS, STATUS_WIDTH, status_colour, status_text

STATUS_RANK = {"running": 0, "queued": 1, "failed": 2, "interrupted": 3, "stopped": 4, "completed": 5}
"""Sort order of the status column: what needs attention first."""

TASK_ABBREV = {"vpr": "vpr", "segmentation": "seg", "classification": "cls", "detection": "det"}
"""Four-letter task names for the narrow task column."""


@dataclass(frozen=True)
class Column:
    """One table column: its key, header, content width and how it is laid out."""

    key: str
    label: str
    width: int
    """Content width in cells; 0 for the flexible name column."""
    right: bool = False
    """Right-justify (numbers)."""


COLUMNS: tuple[Column, ...] = (
    Column("status", "status", STATUS_WIDTH),
    Column("name", "name", 0),
    Column("task", "task", 6),
    Column("backbone", "backbone", 13),
    Column("aggregator", "aggr", 8),
    Column("loss", "loss", 10),
    Column("step", "step", 11, right=True),
    Column("metric", "best", 10, right=True),
    Column("duration", "duration", 10, right=True),
    Column("started", "started", 9, right=True),
)
"""Every column, left to right; widths leave room for the header's sort arrow."""

COLUMN_WIDTH = {c.key: c.width for c in COLUMNS}
"""Content width per column key."""

DROP_ORDER = ("task", "aggregator", "started", "loss", "duration", "backbone", "step")
"""Columns hidden first when the terminal is narrow; status, name and the metric always stay."""

NAME_MIN, NAME_MAX = 18, 48
"""Bounds of the flexible name column."""

MARK = "●"
"""Drawn before the name of a run marked for comparison."""

NEWEST_FIRST = ("started", True)
"""The default sort: most recent runs on top."""


CONFIG_PREFIX = "config:"
"""Key prefix of the columns the user adds for config.yaml keys ("config:optim.lr")."""
CONFIG_WIDTH_MIN, CONFIG_WIDTH_MAX = 7, 14
"""Bounds of a config column's width (its header is the key's last part)."""


def config_column(key: str) -> Column:
    """The column of dotted config key `key`, headed by its last part ("optim.lr" → "lr")."""
    label = key.rsplit(".", 1)[-1]
    width = max(CONFIG_WIDTH_MIN, min(CONFIG_WIDTH_MAX, len(label) + 2))
    return Column(CONFIG_PREFIX + key, label, width, right=True)


def visible_columns(
    width: int, padding: int = 1, config_keys: tuple[str, ...] = ()
) -> tuple[tuple[Column, ...], int]:
    """The columns that fit in `width` cells (dropping per DROP_ORDER, then the config columns, newest
    first) and the name column's width; config columns come after the metric, in the order added."""
    at = next(i for i, c in enumerate(COLUMNS) if c.key == "metric") + 1
    added = [config_column(k) for k in config_keys]
    shown = [*COLUMNS[:at], *added, *COLUMNS[at:]]
    for victim in (None, *DROP_ORDER, *(c.key for c in reversed(added))):
        shown = [c for c in shown if c.key != victim]
        fixed = sum(c.width + 2 * padding for c in shown) + 2 * padding
        if width - fixed >= NAME_MIN:
            break
    return tuple(shown), max(NAME_MIN, min(NAME_MAX, width - fixed))


SORT_VALUES: dict[str, Callable[[RunRow, float], Any]] = {
    "status": lambda row, now: STATUS_RANK.get(row.status, 9),
    "name": lambda row, now: row.name.lower(),
    "task": lambda row, now: row.task or None,
    "backbone": lambda row, now: row.backbone.lower() or None,
    "aggregator": lambda row, now: row.aggregator.lower() or None,
    "loss": lambda row, now: row.loss.lower() or None,
    "step": lambda row, now: row.step,
    "metric": lambda row, now: row.metric,
    "duration": lambda row, now: row.duration(now),
    "started": lambda row, now: row.when,
}
"""What each column sorts by (None sorts last in either direction)."""


def config_sort_value(row: RunRow, key: str) -> tuple[int, float | str] | None:
    """What a config column sorts by: numbers before text, numbers by value; None without the key."""
    text = row.config_values.get(key)
    if text is None:
        return None
    try:
        return 0, float(text)
    except ValueError:
        return 1, text.lower()


def sort_rows(rows: list[RunRow], key: str, reverse: bool, now: float) -> list[RunRow]:
    """Rows ordered by column `key`; rows without a value go last; ties keep newest first."""
    if key.startswith(CONFIG_PREFIX):
        config_key = key[len(CONFIG_PREFIX) :]
        value: Callable[[RunRow, float], Any] = lambda row, now: config_sort_value(row, config_key)  # noqa: E731
    else:
        value = SORT_VALUES[key]
    newest = sorted(rows, key=lambda r: (r.when or 0.0, r.id), reverse=True)
    keyed = [(value(r, now), r) for r in newest]
    present = [(v, r) for v, r in keyed if v is not None]
    present.sort(key=lambda pair: pair[0], reverse=reverse)  # stable: ties stay newest first
    return [r for _, r in present] + [r for v, r in keyed if v is None]


ROW_WINDOW = 200
"""Rows added to the table at a time (a few screens' worth)."""


def fit(text: str, width: int) -> str:
    """`text` cut to `width` cells with an ellipsis."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


class RunsTable(DataTable[Text]):
    """All runs of a runs directory, one row each; sort by any column, filter, live updates."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", tooltip="Open the run's live monitor"),
        Binding("j", "cursor_down", show=False),
        Binding("k", "cursor_up", show=False),
        Binding("g", "scroll_top", show=False),
        Binding("G", "scroll_bottom", show=False),
    ]

    DEFAULT_CSS = """
    RunsTable { scrollbar-size-vertical: 1; }
    RunsTable > .datatable--header { text-style: bold; }
    """

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=1, **kwargs)
        self._clock = clock
        self._rows: dict[str, RunRow] = {}
        self._order: list[str] = []
        self._materialized = 0
        """Rows of `_order` added to the table so far (a prefix): DataTable measures every row it holds, so a
        history of 10,000 runs is added a window at a time as the cursor or the scroll nears its end."""
        self._layout: tuple[tuple[Column, ...], int] = ((), 0)
        self._ticks = 0
        self._cells: dict[str, tuple[RunRow, object, list[Text]]] = {}
        self.run_filter = RunFilter()
        """The filter currently applied."""
        self.sort_key, self.sort_reverse = NEWEST_FIRST
        self.marked: dict[str, None] = {}
        """Run ids marked for comparison, in the order they were marked."""
        self.config_keys: tuple[str, ...] = ()
        """Dotted config.yaml keys shown as extra columns, in the order added."""

    # -- public API used by the runs screen ------------------------------------------------------

    @property
    def visible_ids(self) -> list[str]:
        """Run ids in display order."""
        return list(self._order)

    @property
    def all_rows(self) -> dict[str, RunRow]:
        """Every known run, shown or filtered out."""
        return self._rows

    @property
    def cursor_key(self) -> str | None:
        """The row key under the cursor (a run id; a subclass may have rows of its own, such as groups)."""
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    @property
    def selected(self) -> RunRow | None:
        """The run under the cursor."""
        key = self.cursor_key
        return None if key is None else self._rows.get(key)

    def update_rows(self, rows: dict[str, RunRow], changed: frozenset[str] | None = None) -> None:
        """Show a new set of rows; redraw only the changed cells when the order stays the same."""
        self._rows = rows
        order = self._compute_order()
        if order != self._order or changed is None:
            self._rebuild(order)
            return
        for run_id in changed & set(order[: self._materialized]):
            self._update_row(run_id)

    def toggle_mark(self) -> bool | None:
        """Mark or unmark the run under the cursor; True when it is now marked, None without a run."""
        row = self.selected
        if row is None:
            return None
        marked = row.id not in self.marked
        if marked:
            self.marked[row.id] = None
        else:
            del self.marked[row.id]
        self._update_row(row.id)
        return marked

    def clear_marks(self) -> None:
        """Unmark every run."""
        marked, self.marked = list(self.marked), {}
        shown = set(self._order[: self._materialized])
        for run_id in marked:
            if run_id in shown:
                self._update_row(run_id)

    def set_filter(self, run_filter: RunFilter) -> None:
        """Apply a filter and redraw."""
        self.run_filter = run_filter
        self._rebuild(self._compute_order())

    def set_config_keys(self, keys: tuple[str, ...]) -> None:
        """Show these config keys as columns (rows carry their values once the index has read them)."""
        self.config_keys = keys
        if self.sort_key.startswith(CONFIG_PREFIX) and self.sort_key[len(CONFIG_PREFIX) :] not in keys:
            self.sort_key, self.sort_reverse = NEWEST_FIRST
        self._rebuild(self._compute_order(), columns=True)

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort by column `key`; choosing the current column again flips the direction."""
        if reverse is None:
            reverse = not self.sort_reverse if key == self.sort_key else key in ("metric", "started", "step")
        self.sort_key, self.sort_reverse = key, reverse
        self._rebuild(self._compute_order(), columns=True)

    def sort_next(self) -> None:
        """Sort by the next visible column (wrapping around)."""
        keys = [c.key for c in self._layout[0]] or [c.key for c in COLUMNS]
        index = keys.index(self.sort_key) if self.sort_key in keys else -1
        self.sort_by(keys[(index + 1) % len(keys)])

    def tick(self) -> None:
        """Advance running spinners; refresh live durations once a second."""
        self._ticks += 1
        top = self.scroll_offset.y  # rows are one line high: only the rows on screen animate
        bottom = min(top + self.size.height, self._materialized)
        live = [i for i in self._order[top:bottom] if self._rows[i].status == "running"]
        keys = {c.key for c in self._layout[0]}
        for run_id in live:
            self.update_cell(run_id, "status", self._cell(self._rows[run_id], "status"))
            if "duration" in keys and self._ticks % SPINNER_FPS == 0:
                self.update_cell(run_id, "duration", self._cell(self._rows[run_id], "duration"))

    def redraw(self) -> None:
        """Re-render every cell (after a theme change)."""
        self._rebuild(self._order, columns=True)

    # -- layout -------------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        """Re-plan the columns when the width changes enough to show or hide one."""
        layout = visible_columns(event.size.width - 1, config_keys=self.config_keys)
        if layout != self._layout:
            self._rebuild(self._compute_order(), columns=True)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a header sorts by that column (again: reverse)."""
        event.stop()
        self.sort_by(str(event.column_key.value))

    def _compute_order(self) -> list[str]:
        """Visible run ids: filtered, then sorted."""
        shown = [r for r in self._rows.values() if self.run_filter.matches(r)]
        return [r.id for r in sort_rows(shown, self.sort_key, self.sort_reverse, self._clock())]

    def _rebuild(self, order: list[str], columns: bool = False) -> None:
        """Replace the table's rows (and columns when asked or when the layout changed), keeping the cursor on
        the same row key."""
        selected = self.cursor_key
        layout = visible_columns(
            self.size.width - 1 if self.size.width else 120, config_keys=self.config_keys
        )
        columns = columns or layout != self._layout
        self._layout = layout
        self.clear(columns=columns)
        if columns:
            for column in layout[0]:
                self.add_column(self._header(column), width=self._width(column), key=column.key)
        self._order, self._materialized = order, 0
        at = order.index(selected) if selected in order else 0
        self._materialize(at + ROW_WINDOW)
        if selected in order:
            self.move_cursor(row=at, animate=False)

    def _materialize(self, count: int) -> None:
        """Add rows until the first `count` of the order are in the table."""
        end = min(len(self._order), count)
        for run_id in self._order[self._materialized : end]:
            self.add_row(*self._row_cells(self._rows[run_id]), key=run_id)
        self._materialized = max(self._materialized, end)

    def _grow_near_end(self) -> None:
        """The cursor or the view came within half a window of the last added row: add the next window."""
        reach = max(self.cursor_row, int(self.scroll_y) + self.size.height)
        if self._materialized < len(self._order) and reach > self._materialized - ROW_WINDOW // 2:
            self._materialize(self._materialized + ROW_WINDOW)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Keep rows ahead of the cursor (the event goes on to the screen, which shows the run's summary)."""
        self._grow_near_end()

    def watch_scroll_y(self, old: float, new: float) -> None:
        """Keep rows ahead of a mouse-wheel scroll too."""
        super().watch_scroll_y(old, new)
        self._grow_near_end()

    def action_scroll_bottom(self) -> None:
        """G: the last run (every row is added first)."""
        self._materialize(len(self._order))
        super().action_scroll_bottom()

    def _width(self, column: Column) -> int:
        """Content width of a visible column."""
        return column.width or self._layout[1]

    def _header(self, column: Column) -> Text:
        """Column header, with an arrow on the sort column."""
        label = column.label
        if column.key == self.sort_key:
            label = f"{label} {'▼' if self.sort_reverse else '▲'}"
        return Text(label, justify="right" if column.right else "left")

    def _update_row(self, run_id: str) -> None:
        """Redraw every visible cell of one row."""
        for column, cell in zip(self._layout[0], self._row_cells(self._rows[run_id])):
            self.update_cell(run_id, column.key, cell)

    def _row_cells(self, row: RunRow) -> list[Text]:
        """The visible cells of a row, reused while the row, layout and theme are unchanged (fast re-sorts)."""
        dark = self._dark()
        stamp = (self._layout, dark, row.id in self.marked)
        cached = self._cells.get(row.id)
        if cached is not None and cached[0] is row and cached[1] == stamp and row.status != "running":
            return cached[2]
        cells = [self._cell(row, c.key, dark) for c in self._layout[0]]
        self._cells[row.id] = (row, stamp, cells)
        return cells

    def _dark(self) -> bool:
        """Whether the current theme is dark (status colours depend on it)."""
        return self.app.current_theme.dark if self.is_mounted else True

    # -- cells --------------------------------------------------------------------------------------

    def _cell(self, row: RunRow, key: str, dark: bool | None = None) -> Text:
        """One rendered cell."""
        dark = self._dark() if dark is None else dark
        now = self._clock()
        if key == "status":
            return status_text(row.status, now, dark)
        if key == "name":
            return self._name_cell(row)
        if key == "metric":
            return self._metric_cell(row)
        if key == "step":
            style = status_colour("running", dark) if row.status == "running" else ""
            return Text(fmt_progress(row.step, row.max_steps), style=style, justify="right")
        if key == "duration":
            return Text(fmt_duration(row.duration(now)), justify="right")
        if key == "started":
            return Text(fmt_started(row.when, now), style="dim", justify="right")
        if key.startswith(CONFIG_PREFIX):
            value = row.config_values.get(key[len(CONFIG_PREFIX) :])
            width = config_column(key[len(CONFIG_PREFIX) :]).width
            return Text(fit(value, width) if value is not None else "–", justify="right")
        plain = TASK_ABBREV.get(row.task, row.task[:4]) if key == "task" else str(getattr(row, key))
        return Text(fit(plain or "–", COLUMN_WIDTH[key]), style="dim" if key == "task" else "")

    def _name_cell(self, row: RunRow) -> Text:
        """The run name in bold (after a mark when marked for comparison), its tags after it, dimmed."""
        width = self._layout[1]
        text = Text()
        if row.id in self.marked:
            text.append(f"{MARK} ", style=f"bold {self._mark_colour()}")
        text.append(fit(row.name, width - len(text)), style="bold")
        tags = " ".join(f"#{t}" for t in row.tags)
        room = width - len(text) - 1
        if tags and room > 3:
            text.append(" " + fit(tags, room), style="dim")
        return text

    def _mark_colour(self) -> str:
        """The theme's accent: the colour of the comparison mark."""
        theme = self.app.current_theme if self.is_mounted else None
        return (theme.accent if theme and theme.accent else None) or "magenta"

    def _metric_cell(self, row: RunRow) -> Text:
        """'R@1  85.3': the metric name dimmed on the left, the value right-aligned."""
        if row.metric is None:
            return Text("–", style="dim", justify="right")
        text = Text(f"{row.metric_name:<4} ", style="dim")
        text.append(f"{fmt_metric(row.metric):>5}", style="bold")
        return Text.assemble(text, justify="right")
