"""The sweep table: one row per point of a sweep — its varied values, status and main metrics, a Delta against a
chosen baseline row, the best of each column in bold — followed live; stop, pause, resume, extend and export."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Static

from engine.core.errors import UserError
from engine.core.export import lower_is_better
from engine.core.sweep.axes import short_keys
from engine.core.sweep.table import SweepRow, SweepTable, fmt_train_time, value_text
from tui.data.sweep_view import KEY_WIDTH_MAX, SweepView, fitting_columns, header_label, read_view
from tui.screens.confirm_sweep_stop import ConfirmSweepStop
from tui.screens.text_prompt import TextPromptScreen
from tui.widgets.key_bar import KeyBar
from tui.widgets.runs_table import fit
from tui.widgets.status_badge import GLYPHS, status_colour

LOOK_EVERY_S = 1.0
"""Seconds between two looks at the sweep's files (a look that finds nothing changed reads nothing)."""

POINT_LABELS = {"completed": "done"}
"""How a point's status reads in its narrow column."""

POINT_GLYPHS = {**GLYPHS, "running": "▶", "skipped": "–"}
"""A glyph per point status, so the column reads without colour (NO_COLOR)."""

PaletteCommand = tuple[str, str, Callable[[], object]]


class SweepGrid(DataTable[Text]):
    """The points' table; Enter (shown in the key bar) opens the point's run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", tooltip="Open the live monitor of the point's run"),
    ]


class SweepTableScreen(Screen[None]):
    """A sweep's points side by side; `b` picks the baseline row, Enter opens a point's run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        Binding("b", "baseline", "Baseline", tooltip="Make the row under the cursor the baseline of Delta"),
        Binding("x", "export", "Export", tooltip="Write the table as markdown and CSV to <runs>/exports/"),
        Binding("e", "extend", "Extend", tooltip="Add values to the sweep (key=v1,v2): new points queue"),
        Binding("p", "pause", "Pause", tooltip="Start no new point; the running ones go on"),
        Binding("r", "resume", "Resume", tooltip="Start points again (stopped and skipped ones too)"),
        Binding("s", "stop", "Stop", tooltip="Stop the running points and skip the queued ones (asks)"),
        Binding("f", "toggle_use", "Final/best", show=False, tooltip="Show final values instead of best"),
    ]

    DEFAULT_CSS = """
    SweepTableScreen #sweep-title { height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    SweepTableScreen #sweep-table { height: 1fr; scrollbar-size-vertical: 1; }
    SweepTableScreen #sweep-table > .datatable--header { text-style: bold; }
    SweepTableScreen #sweep-note { height: auto; padding: 0 1; color: $text-muted; }
    """

    AUTO_FOCUS = "#sweep-table"

    def __init__(self, runs_dir: Path, sweep_id: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.sweep_id = sweep_id
        self._clock = clock
        self.view: SweepView | None = None
        """The last reading of the sweep (None until the first arrives)."""
        self.baseline: int | None = None
        """The baseline row chosen with `b` (None: the sweep's own)."""
        self.use = "best"
        """Which values the table shows: each run's best, or its final ones (`f`)."""
        self._error = ""
        self._drawn: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        """Title, table, note, key bar."""
        yield Static(id="sweep-title")
        yield SweepGrid(cursor_type="row", zebra_stripes=False, id="sweep-table")
        yield Static(id="sweep-note")
        yield KeyBar()

    def on_mount(self) -> None:
        """Read the sweep now, then look at it once a second."""
        self._look()
        self.set_interval(LOOK_EVERY_S, self._look)

    # -- reading (thread) -------------------------------------------------------------------------------

    def _look(self) -> None:
        """Read the sweep again if any of its files changed (off the UI thread)."""
        if self.is_current or self.view is None:
            self._read(self.view)

    @work(thread=True, exclusive=True, group="sweep-read", name="sweep-read")
    def _read(self, previous: SweepView | None) -> None:
        try:
            view = read_view(self.runs_dir, self.sweep_id, self.baseline, self.use, previous)
        except (UserError, OSError, ValueError) as exc:
            self.app.call_from_thread(self._show_error, str(exc))
            return
        if view is not None:
            self.app.call_from_thread(self._show, view)

    def _show(self, view: SweepView) -> None:
        """Draw a new reading (unless the screen was closed while it was read)."""
        if not self.is_attached:
            return
        self.view, self._error = view, ""
        self._draw()
        self.refresh_bindings()

    def _show_error(self, problem: str) -> None:
        """The sweep cannot be read (its folder gone, a damaged state.json): say so above the table."""
        if not self.is_attached:
            return
        self._error = problem
        self._render_title()

    # -- drawing --------------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        """Other widths show other metric columns."""
        self._draw()

    def _draw(self) -> None:
        """Fill the table (rebuilt only when the reading, the width or the theme changed)."""
        self._render_title()
        if self.view is None:
            return
        table, dark = self.view.table, self.app.current_theme.dark
        width = self.size.width or 80
        key = (id(self.view), width, dark)
        if key == self._drawn:
            return
        self._drawn = key
        metrics, deltas = fitting_columns(table, width)
        grid = self.query_one("#sweep-table", DataTable)
        cursor = grid.cursor_row
        splits = {c[0] for c in table.metric_columns}
        grid.header_height = 2 if len(splits) > 1 else 1
        grid.clear(columns=True)
        grid.add_column(Text("#", justify="right"), key="index")
        labels = short_keys(table.key_columns)
        for name in table.key_columns:
            grid.add_column(labels[name], key=f"key:{name}")
        for column in metrics:
            grid.add_column(Text(header_label(table, column).replace(" ", "\n", 1), justify="right"))
            if column in deltas:
                unit = " pp" if table.percent.get(column) else ""
                grid.add_column(
                    Text(f"Δ {column[1]}\n{unit.strip()}" if len(splits) > 1 else f"Δ{unit}", justify="right")
                )
        grid.add_column(Text("train\ntime" if len(splits) > 1 else "time", justify="right"), key="time")
        grid.add_column("status", key="status")
        for row in table.rows:
            grid.add_row(*self._cells(table, row, metrics, deltas, dark), key=str(row.index))
        if table.rows:
            grid.move_cursor(row=min(cursor, len(table.rows) - 1), animate=False)
        hidden = len(table.metric_columns) - len(metrics)
        note = self.query_one("#sweep-note", Static)
        note.update(
            f"{hidden} more metric column{'s' if hidden != 1 else ''}: x exports every column"
            if hidden
            else ""
        )
        note.display = bool(hidden)

    def _cells(
        self,
        table: SweepTable,
        row: SweepRow,
        metrics: list[tuple[str, str]],
        deltas: set[tuple[str, str]],
        dark: bool,
    ) -> list[Text]:
        """One row: index, varied values, each shown metric (the column's best in bold) and Delta, status."""
        is_base = row.index == table.baseline_index
        cells = [Text(str(row.index), style="bold" if is_base else "dim", justify="right")]
        for name in table.key_columns:
            cells.append(Text(fit(row.varied.get(name, "–"), KEY_WIDTH_MAX)))
        for column in metrics:
            value = row.values.get(column)
            best = table.best.get(column) == row.index and value is not None
            style = "bold" if best else ("dim" if value is None else "")
            cells.append(Text(value_text(table, column, value), style=style, justify="right"))
            if column in deltas:
                cells.append(self._delta_cell(table, row, column, is_base, dark))
        cells.append(Text(fmt_train_time(row.train_seconds), style="dim", justify="right"))
        colour = status_colour(row.status if row.status != "skipped" else "queued", dark)
        label = POINT_LABELS.get(row.status, row.status)
        cells.append(Text(f"{POINT_GLYPHS.get(row.status, '?')} {label}", style=colour))
        return cells

    def _delta_cell(
        self, table: SweepTable, row: SweepRow, column: tuple[str, str], is_base: bool, dark: bool
    ) -> Text:
        """'+3.1' green when better than the baseline, '-2.0' red when worse; 'base' on the baseline row."""
        if is_base:
            return Text("base", style="dim", justify="right")
        delta = row.deltas.get(column)
        if delta is None:
            return Text("—", style="dim", justify="right")
        better = delta < 0 if lower_is_better(column[1]) else delta > 0
        colour = status_colour("completed" if better else "failed", dark) if delta else ""
        return Text(value_text(table, column, delta, signed=True), style=colour, justify="right")

    def _render_title(self) -> None:
        """'Sweep lr-sweep  ▶ running · 2/4 done · 1 running · parallel 2' over 'id · config · Δ vs #0 (lr=…)'."""
        title = self.query_one("#sweep-title", Static)
        if self.view is None:
            title.update(Text(self._error or f"Reading sweep {self.sweep_id}…", style="bold"))
            return
        state, table, dark = self.view.state, self.view.table, self.app.current_theme.dark
        counts = {s: sum(1 for p in state.points if p.status == s) for s in ("running", "failed", "queued")}
        line = Text.assemble(("Sweep ", "bold"), (state.name, "bold underline"), "  ")
        line.append(state.status, style=f"bold {status_colour(_colour_of(state.status), dark)}")
        line.append(f" · {state.finished}/{state.total} done")
        for status, count in counts.items():
            if count:
                line.append(" · ")
                line.append(f"{count} {status}", style=status_colour(status, dark))
        line.append(f" · parallel {state.parallel}", style="dim")
        base = next((r for r in table.rows if r.index == table.baseline_index), None)
        labels = short_keys(table.key_columns)
        point = " ".join(f"{labels[k]}={v}" for k, v in base.varied.items() if k in labels) if base else ""
        second = Text(f"{state.id} · {state.config or '?'} · {table.use} values · ", style="dim")
        second.append(f"Δ vs #{table.baseline_index}", style="bold")
        if point:
            second.append(f" ({point})")
        if self._error:
            second = Text(self._error, style=f"bold {status_colour('failed', dark)}")
        title.update(Text("\n").join([line, second]))

    # -- actions --------------------------------------------------------------------------------------

    def _row_under_cursor(self) -> SweepRow | None:
        if self.view is None or not self.view.table.rows:
            return None
        grid = self.query_one("#sweep-table", DataTable)
        rows = self.view.table.rows
        return rows[grid.cursor_row] if 0 <= grid.cursor_row < len(rows) else None

    def action_back(self) -> None:
        """Back to the runs list."""
        self.app.pop_screen()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row opens its run."""
        event.stop()
        self.action_open_run()

    def action_open_run(self) -> None:
        """Open the monitor of the point's run (a queued point has none yet)."""
        row = self._row_under_cursor()
        if row is None:
            return
        if row.run_id is None:
            self.notify(f"point {row.index} has not started yet ({row.status})", title="No run", timeout=3)
            return
        self.app.open_monitor(self.runs_dir / row.run_id)  # type: ignore[attr-defined]

    def action_baseline(self) -> None:
        """Make the row under the cursor the baseline of the Delta column."""
        row = self._row_under_cursor()
        if row is not None and self.view is not None and row.index != self.view.table.baseline_index:
            self.baseline = row.index
            self._read(self.view)

    def action_toggle_use(self) -> None:
        """Show final values instead of best ones, and back."""
        self.use = "final" if self.use == "best" else "best"
        self._read(self.view)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Pause shows while the sweep runs, resume once it is paused, stopped or interrupted."""
        status = self.view.state.status if self.view is not None else ""
        if action == "pause":
            return status == "running"
        if action == "resume":
            return status in ("paused", "stopped", "stopping", "interrupted")
        if action == "stop":
            return status in ("running", "paused", "interrupted")
        return True

    def action_pause(self) -> None:
        """Start no new point; the running ones go on."""
        self._request("pause")

    def action_resume(self) -> None:
        """Start points again."""
        self._request("resume")

    def action_stop(self) -> None:
        """Ask, then stop the running points and skip the queued ones."""
        if self.view is None:
            return
        points = self.view.state.points
        running = sum(1 for p in points if p.status == "running")
        queued = sum(1 for p in points if p.status == "queued")

        def answered(yes: bool | None) -> None:
            if yes:
                self._request("stop")

        self.app.push_screen(ConfirmSweepStop(self.view.state.name, running, queued), answered)

    @work(thread=True, group="sweep-request", name="sweep-request")
    def _request(self, action: str) -> None:
        """Write the request (resume starts a queue process: off the UI thread), then look again."""
        from engine.core.sweep import request_sweep

        try:
            said = request_sweep(self.runs_dir, self.sweep_id, action)
        except (UserError, OSError) as exc:
            self.app.call_from_thread(
                self.notify, str(exc), title=f"Not {action}ed", severity="error", markup=False
            )
            return
        self.app.call_from_thread(self.notify, said, title=f"Sweep {action}", markup=False)
        self.app.call_from_thread(self._read, self.view)

    def action_extend(self) -> None:
        """Ask for `key=v1,v2` and add those values to the sweep (its new points queue)."""
        keys = ", ".join(self.view.table.key_columns) if self.view else ""
        prompt = TextPromptScreen(
            Text.assemble("Extend sweep ", (self.view.state.name if self.view else self.sweep_id, "bold")),
            placeholder="optim.lr=1e-2,3e-2",
            hint=f"key=v1,v2 (several separated by spaces) · Enter queues the new points · esc cancels\n"
            f"varied: {keys}",
        )
        self.app.push_screen(prompt, self._extend)

    def _extend(self, text: str | None) -> None:
        if text:
            self._extend_with(text.split())

    @work(thread=True, group="sweep-request", name="sweep-extend")
    def _extend_with(self, assignments: list[str]) -> None:
        from engine.core.sweep import extend_sweep

        try:
            said = extend_sweep(self.runs_dir, self.sweep_id, assignments)
        except (UserError, OSError) as exc:
            self.app.call_from_thread(
                self.notify, str(exc), title="Not extended", severity="error", markup=False
            )
            return
        self.app.call_from_thread(
            self.notify, str(said or "sweep extended"), title="Sweep extended", markup=False
        )
        self.app.call_from_thread(self._read, self.view)

    def action_export(self) -> None:
        """Write the whole table (every metric column) as markdown and CSV, and the main metric against each
        numeric swept key as a PNG, to `<runs>/exports/<time>/`."""
        if self.view is not None:
            self._export(self.view.table)

    @work(thread=True, group="sweep-export", name="sweep-export")
    def _export(self, table: SweepTable) -> None:
        from engine.core.sweep.table import to_csv, to_markdown
        from tui.data.sweep_plot import draw_metric_vs_key, numeric_keys
        from tui.screens.compare import export_folder

        folder = export_folder(self.runs_dir, self._clock())
        try:
            folder.mkdir(parents=True, exist_ok=True)
            stem = f"sweep-{table.name}"
            (folder / f"{stem}.md").write_text(to_markdown(table), encoding="utf-8")
            (folder / f"{stem}.csv").write_text(to_csv(table), encoding="utf-8")
            mains = table.main_columns()
            plots = [  # the main metric against each numeric swept key (an LR sweep's curve)
                draw_metric_vs_key(table, key, mains[0], folder / f"{stem}-{key}.png")
                for key in (numeric_keys(table) if mains else [])
            ]
        except OSError as exc:
            self.app.call_from_thread(
                self.notify, str(exc), title="Export failed", severity="error", markup=False
            )
            return
        also = f" and {len(plots)} plot{'s' if len(plots) != 1 else ''}" if plots else ""
        self.app.call_from_thread(
            self.notify, f"{stem}.md, {stem}.csv{also} in {folder}", title="Exported", markup=False
        )

    # -- command palette --------------------------------------------------------------------------------

    def palette_commands(self) -> Iterator[PaletteCommand]:
        """Every action of this screen, for the command palette."""
        yield "Open run", "The monitor of the selected point's run", self.action_open_run
        yield "Baseline row", "Delta against the selected row", self.action_baseline
        yield "Export sweep table", "Markdown and CSV of every column", self.action_export
        yield "Extend sweep", "Add values (key=v1,v2): new points queue", self.action_extend
        yield "Pause sweep", "Start no new point", self.action_pause
        yield "Resume sweep", "Start points again", self.action_resume
        yield "Stop sweep", "Stop running points, skip queued ones (asks)", self.action_stop
        yield "Final or best values", "Switch the values the table shows", self.action_toggle_use


def _colour_of(sweep_status: str) -> str:
    """The status colour a sweep's status borrows from the run statuses."""
    return {"stopping": "stopped", "paused": "paused"}.get(sweep_status, sweep_status)
