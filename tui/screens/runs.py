"""The runs screen (what `labconsole` opens): every run in the runs directory, live, sortable and filterable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from engine.core.errors import UserError
from engine.core.protocol import RunPaths, update_run_info
from engine.core.protocol.trash import move_to_trash, set_archived, trash_folder
from tui.data.run_filter import RunFilter, next_status_filter, terms_matching_nothing
from tui.data.run_index import IndexUpdate, RunIndex
from tui.data.run_notes import MAX_NOTE_CHARS, add_note
from tui.data.sweep_groups import split_sweep_terms
from tui.screens.confirm_delete import ConfirmDelete
from tui.screens.confirm_rerun import ConfirmRerun
from tui.screens.text_prompt import TextPromptScreen
from tui.widgets.key_bar import KeyBar
from tui.widgets.run_summary import RunSummary
from tui.widgets.runs_table import COLUMNS, RunsTable
from tui.widgets.status_badge import SPINNER_FPS, status_colour
from tui.widgets.sweep_runs_table import SweepRunsTable, group_summary

CONFIG_BUDGET = 0.05
"""Seconds per scan spent parsing new config.yaml files (a big runs folder fills in over a few scans)."""
PENDING_PAUSE_S = 0.1
"""Pause between two scans while config.yaml files are left to parse (each scan parses for CONFIG_BUDGET)."""
FULL_SWEEP_S = 30.0
"""Seconds between scans that stat every run; the scans between look at new folders and live runs only (a
finished run changes when someone acts on it, and actions here wake a full scan at once)."""
FILTER_DEBOUNCE_S = 0.12
"""In a long history the filter applies this long after the last key typed (Enter applies it at once)."""
DEBOUNCE_ABOVE = 2_000
"""Runs from which filtering waits for typing to pause; below, every key filters at once."""
SUSPENDED_SLOWDOWN = 5
"""While another screen covers the runs list, it is rescanned this many times less often."""

if TYPE_CHECKING:
    from tui.data.launching import LaunchRequest

PaletteCommand = tuple[str, str, Callable[[], object]]
"""(title, help, callback) for the command palette."""


class RunsScreen(Screen[None]):
    """A live table of runs; Enter opens the monitor, `n` the launcher."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_run", "New", tooltip="Compose and launch a new run"),
        Binding("space", "mark", "Mark", key_display="␣", tooltip="Mark or unmark the run for comparison"),
        Binding(
            "d", "compare", "Compare", tooltip="Compare the marked runs (the first marked is the baseline)"
        ),
        Binding("c", "compose", "Compose", tooltip="Compose a new run from presets"),
        Binding("C", "clone", "Clone", tooltip="Compose a run prefilled with the selected run's config"),
        Binding(
            "R",
            "rerun",
            "Rerun",
            show=False,
            tooltip="Launch the selected run's config again, naming what changed since it ran",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            tooltip="Filter by words, status:…, tag:…, #tag, sweep:NAME or R@1>80, step<1000",
        ),
        Binding(
            "f", "cycle_status", "Status", tooltip="Show only running / completed / failed / stopped runs"
        ),
        Binding("s", "sort_next", "Sort", tooltip="Sort by the next column (click a header to pick one)"),
        Binding("S", "sort_reverse", "Reverse", show=False),
        Binding(
            "w",
            "sweep_table",
            "Sweep",
            tooltip="The sweep table of the sweep under the cursor: one row per point, Delta vs a baseline",
        ),
        Binding("N", "add_note", "Note", tooltip="Add a note to the selected run (kept in its run.json)"),
        Binding(
            "a",
            "archive",
            "Archive",
            show=False,
            tooltip="Hide the selected run from the list (is:archived shows archived runs; a again restores)",
        ),
        Binding(
            "delete,x", "delete", "Delete", show=False, tooltip="Move the selected run to the trash (asks)"
        ),
        Binding(
            "i",
            "images",
            "Figures",
            show=False,
            tooltip="The selected run's evaluation figures (retrievals, overlays, confusion matrices)",
        ),
        Binding(
            "plus",
            "config_column",
            "Column",
            key_display="+",
            show=False,
            tooltip="Show a config.yaml key (optim.lr) as a column; the same key again hides it",
        ),
        Binding("escape", "clear_filter", "Clear", tooltip="Clear the filter"),
        Binding("ctrl+r", "refresh", "Refresh", show=False),
        Binding("q", "app.quit", "Quit"),
    ]

    AUTO_FOCUS = "#runs-table"

    DEFAULT_CSS = """
    RunsScreen #runs-filter-error {
        display: none;
        width: auto;
        max-width: 60%;
        padding: 0 1;
        color: $text-error;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    refresh_interval: float = 1.0
    """Seconds between two scans of the runs directory."""

    class RunsChanged(Message):
        """The runs directory was scanned and some runs appeared, progressed, ended or vanished."""

        def __init__(self, update: IndexUpdate) -> None:
            super().__init__()
            self.update = update
            """All rows and what changed."""

    def __init__(
        self, runs_dir: Path, clock: Callable[[], float] = time.time, refresh_interval: float = 1.0
    ) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._index = RunIndex(self.runs_dir)
        self._wake = threading.Event()
        self._loaded = False
        self._suspended = False
        self._filter_timer: Timer | None = None
        self._on_sweep = False
        """Whether the cursor is on a sweep's group row or one of its runs (the `w` key shows then)."""

    def compose(self) -> ComposeResult:
        """Title bar, table, empty-state note, selected-run summary, footer (the filter bar comes on first use)."""
        yield Static(id="runs-title")
        yield SweepRunsTable(clock=self._clock, id="runs-table")
        yield Static(id="runs-empty")
        yield RunSummary(clock=self._clock, id="runs-summary")
        yield KeyBar()

    def on_mount(self) -> None:
        """Start scanning the runs directory and the spinner clock."""
        self._render_title()
        self._scan_runs()
        self._spinner = self.set_interval(1 / SPINNER_FPS, self._tick)
        self.watch(self.app, "theme", self._on_theme, init=False)

    def on_screen_suspend(self) -> None:
        """Covered by another screen: no spinner, and rescans only every few seconds (idle CPU)."""
        self._suspended = True
        self._spinner.pause()

    def on_screen_resume(self) -> None:
        """Visible again: spin, and rescan at once."""
        if self._suspended:
            self._suspended = False
            self._spinner.resume()
            self._wake.set()

    def on_unmount(self) -> None:
        """Wake the scanner so it notices its cancellation at once."""
        self._wake.set()

    # -- scanning (thread) ----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="runs-scan", name="runs-scan")
    def _scan_runs(self) -> None:
        """Rescan the runs directory every `refresh_interval` seconds; post what changed."""
        worker = get_current_worker()
        first, last_full, woken = True, 0.0, False
        while not worker.is_cancelled:
            full = woken or time.monotonic() - last_full >= FULL_SWEEP_S
            last_full = time.monotonic() if full else last_full
            update = self._index.refresh(config_budget=CONFIG_BUDGET, full=full or first)
            if first or update.any:
                self.post_message(self.RunsChanged(update))
            first = False
            woken = False
            if (
                update.pending
            ):  # configs left to parse: go on soon, leaving the UI thread the interpreter meanwhile
                woken = self._wake.wait(PENDING_PAUSE_S)
            else:
                woken = self._wake.wait(
                    self.refresh_interval * (SUSPENDED_SLOWDOWN if self._suspended else 1)
                )
            self._wake.clear()

    def on_runs_screen_runs_changed(self, message: RunsChanged) -> None:
        """Show the new rows; the first scan fills the table."""
        table = self.query_one(RunsTable)
        table.update_rows(message.update.rows, None if not self._loaded else message.update.changed)
        self._loaded = True
        self._render_title()
        self._render_empty()
        self._render_summary()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The cursor moved: describe the run under it (the sweep key shows on a sweep's rows only)."""
        self._render_summary()
        on_sweep = self.query_one(SweepRunsTable).selected_sweep is not None
        if on_sweep != self._on_sweep:
            self._on_sweep = on_sweep
            self.refresh_bindings()

    # -- actions ------------------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a second click) on a row opens its monitor."""
        event.stop()
        self.action_open_run()

    def action_open_run(self) -> None:
        """Open the live monitor of the run under the cursor; on a sweep's group row, fold or unfold it."""
        table = self.query_one(SweepRunsTable)
        if table.selected_group is not None:
            table.toggle_group()
            return
        row = table.selected
        if row is not None:
            self.app.open_monitor(row.dir)  # type: ignore[attr-defined]

    def action_sweep_table(self) -> None:
        """Open the sweep table of the sweep under the cursor (its group row or one of its runs)."""
        group = self.query_one(SweepRunsTable).selected_sweep
        if group is None:
            self.notify(
                "Put the cursor on a sweep (its group row or one of its runs), then press w.",
                title="Sweep table",
                severity="warning",
            )
            return
        from tui.screens.sweep_table import SweepTableScreen

        self.app.push_screen(SweepTableScreen(self.runs_dir, group.id, clock=self._clock))

    def action_new_run(self) -> None:
        """Open the launcher."""
        self.app.open_launcher()  # type: ignore[attr-defined]

    def action_mark(self) -> None:
        """Mark or unmark the run under the cursor for comparison, then move down."""
        table = self.query_one(RunsTable)
        if table.toggle_mark() is not None:
            table.action_cursor_down()
        self._render_title()

    def action_compare(self) -> None:
        """Compare the marked runs; with fewer than two, the selected (or marked) run against the baseline."""
        table = self.query_one(RunsTable)
        marked = [table.all_rows[i].dir for i in table.marked if i in table.all_rows]
        if len(marked) >= 2:
            self.app.open_compare(marked)  # type: ignore[attr-defined]
            return
        candidate = marked[0] if marked else (table.selected.dir if table.selected else None)
        baseline = self._baseline_run(exclude=candidate)
        if candidate is None or baseline is None:
            self.notify(
                "Mark at least two runs with space, then press d.", title="Compare", severity="warning"
            )
            return
        self.notify(
            f"{candidate.name} against the baseline {baseline.name} (space marks runs)",
            title="Compare",
            timeout=3,
        )
        self.app.open_compare([baseline, candidate], baseline)  # type: ignore[attr-defined]

    def _baseline_run(self, exclude: Path | None) -> Path | None:
        """The newest run tagged 'baseline' other than `exclude`."""
        rows = [
            r
            for r in self.query_one(RunsTable).all_rows.values()
            if "baseline" in r.tags and r.dir != exclude
        ]
        return max(rows, key=lambda r: (r.when or 0.0, r.id)).dir if rows else None

    def action_compose(self) -> None:
        """Open the composer on a blank run."""
        self.app.open_composer(None)  # type: ignore[attr-defined]

    def action_clone(self) -> None:
        """Open the composer prefilled with the selected run's config.yaml."""
        row = self.query_one(RunsTable).selected
        if row is not None:
            self.app.open_composer(RunPaths(row.dir).config)  # type: ignore[attr-defined]

    def action_archive(self) -> None:
        """Archive the selected run (hidden from the list), or restore an archived one."""
        row = self.query_one(RunsTable).selected
        if row is None:
            return
        try:
            set_archived(RunPaths(row.dir), not row.archived)
        except (UserError, OSError) as exc:
            self.notify(str(exc), title="Not archived", severity="error", markup=False)
            return
        if row.archived:
            self.notify(f"{row.name} is back in the list", title="Restored", markup=False)
        else:
            self.notify(
                f"{row.name} archived (filter is:archived to see it; a there restores it)", markup=False
            )
        self._wake.set()

    def action_delete(self) -> None:
        """Ask, then move the selected run's folder to the trash."""
        row = self.query_one(RunsTable).selected
        if row is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                move_to_trash(RunPaths(row.dir))
            except (UserError, OSError) as exc:
                self.notify(str(exc), title="Not deleted", severity="error", markup=False)
                return
            self.notify(f"{row.name} moved to the trash (labconsole trash --restore {row.id})", markup=False)
            self._wake.set()

        self.app.push_screen(ConfirmDelete(row.name, str(trash_folder(self.runs_dir))), answered)

    def action_images(self) -> None:
        """The selected run's evaluation figures, one at a time, followed live."""
        row = self.query_one(RunsTable).selected
        if row is not None:
            from tui.screens.image_view import ImageViewScreen  # numpy and Pillow: not at console start

            self.app.push_screen(ImageViewScreen(row.dir))

    def action_rerun(self) -> None:
        """Ask, naming what changed since the selected run ran, then launch its config.yaml again."""
        row = self.query_one(RunsTable).selected
        if row is not None:
            self._prepare_rerun(row.dir, row.name)

    @work(thread=True, exclusive=True, group="rerun")
    def _prepare_rerun(self, run_dir: Path, run_name: str) -> None:
        """Read the config and compare provenance off the UI thread (git and weight hashes take a moment)."""
        from tui.cli.common import read_config
        from tui.data.rerun import changes_since, rerun_request

        cfg, damage = read_config(RunPaths(run_dir))
        if damage is not None:
            self.app.call_from_thread(
                self.notify, f"cannot rerun {run_name}: {damage}", severity="error", markup=False
            )
            return
        request = rerun_request(run_dir, cfg)
        changes = changes_since(run_dir, cfg)

        def answered(yes: bool | None) -> None:
            if yes:
                self._launch_rerun(request, run_dir)

        self.app.call_from_thread(
            self.app.push_screen, ConfirmRerun(run_name, str(request.name), changes), answered
        )

    @work(thread=True, exclusive=True, group="rerun")
    def _launch_rerun(self, request: LaunchRequest, source: Path) -> None:
        from tui.data.launching import launch

        outcome = launch(request, self.runs_dir)
        if outcome.run_dir is None:
            problem = outcome.failure.problem if outcome.failure else "unknown"
            self.app.call_from_thread(
                self.notify, problem, title="Rerun failed", severity="error", markup=False
            )
            return
        update_run_info(RunPaths(outcome.run_dir).run_json, rerun_of=source.name)
        self.app.call_from_thread(self.app._on_launched, outcome.run_dir)  # type: ignore[attr-defined]

    def action_add_note(self) -> None:
        """Ask for a note and add it to the selected run's run.json (the summary shows it after the rescan)."""
        row = self.query_one(RunsTable).selected
        if row is None:
            return

        def write(text: str | None) -> None:
            if text is None:
                return
            try:
                add_note(row.dir, text)
            except (UserError, OSError) as exc:
                self.notify(str(exc), title="Note not added", severity="error", markup=False)
                return
            self._wake.set()  # rescan now: the summary shows the new note at once

        prompt = TextPromptScreen(
            Text.assemble("Note on ", (row.name, "bold")),
            placeholder="what to remember about this run",
            hint="Enter adds the note to run.json · esc cancels",
            max_length=MAX_NOTE_CHARS,
        )
        self.app.push_screen(prompt, write)

    def action_config_column(self) -> None:
        """Ask for a dotted config key and show it as a column (or hide it when it is shown already)."""
        shown = self.query_one(RunsTable).config_keys
        hint = "Enter shows the key's value per run, read from config.yaml · esc cancels"
        if shown:
            hint += f"\nshown: {', '.join(shown)} (type one again to hide it)"
        prompt = TextPromptScreen(Text("Config column", style="bold"), placeholder="optim.lr", hint=hint)
        self.app.push_screen(prompt, self._toggle_config_column)

    def _toggle_config_column(self, key: str | None) -> None:
        """Add or remove the column of config key `key` (None: the prompt was cancelled)."""
        if key is None:
            return
        keys = self.query_one(RunsTable).config_keys
        self._set_config_keys(tuple(k for k in keys if k != key) if key in keys else (*keys, key))

    def action_clear_config_columns(self) -> None:
        """Hide every config column."""
        self._set_config_keys(())

    def _set_config_keys(self, keys: tuple[str, ...]) -> None:
        """Show these config columns; the scanner reads their values from each run's config.yaml (once)."""
        self._index.config_keys = keys
        self.query_one(RunsTable).set_config_keys(keys)
        self._wake.set()

    async def action_filter(self) -> None:
        """Show the filter input and focus it."""
        field = await self._filter_field()
        self._show_filter(True)
        field.focus()

    async def action_clear_filter(self) -> None:
        """Drop the filter and return to the table."""
        field = await self._filter_field()
        field.value = ""
        self._show_filter(False)
        self.query_one(RunsTable).focus()

    async def action_cycle_status(self) -> None:
        """Show only running, then completed, failed, stopped runs, then all again."""
        field = await self._filter_field()
        field.value = next_status_filter(field.value)
        self._show_filter(bool(field.value))

    async def _filter_field(self) -> Input:
        """The filter input, mounted above the table the first time it is needed (not at start-up)."""
        found = self.query("#runs-filter")
        if found:
            return found.first(Input)
        field = Input(
            placeholder="words  status:running  tag:baseline  #tag  sweep:lr  R@1>80  step<1000",
            id="runs-filter",
            compact=True,
        )
        await self.mount(
            Horizontal(
                Static("filter", id="runs-filter-label"),
                field,
                Static(id="runs-filter-error", markup=False),
                id="runs-filter-bar",
            ),
            before=self.query_one(RunsTable),
        )
        return field

    def action_sort_next(self) -> None:
        """Sort by the next column."""
        self.query_one(RunsTable).sort_next()

    def action_sort_reverse(self) -> None:
        """Flip the sort direction."""
        table = self.query_one(RunsTable)
        table.sort_by(table.sort_key, not table.sort_reverse)

    def action_sort_by(self, key: str) -> None:
        """Sort by column `key` (from the command palette)."""
        self.query_one(RunsTable).sort_by(key)

    def action_refresh(self) -> None:
        """Rescan the runs directory now."""
        self._wake.set()

    # -- filter input -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """'Clear filter' only applies (and shows in the footer) while a filter bar is open."""
        if action == "clear_filter":
            bars = self.query("#runs-filter-bar")
            return bool(bars) and bars.first().has_class("-shown")
        if action == "sweep_table":
            return self._on_sweep
        return True

    def _show_filter(self, shown: bool) -> None:
        """Open or close the filter bar."""
        for bar in self.query("#runs-filter-bar"):
            bar.set_class(shown, "-shown")
        self.refresh_bindings()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter as the user types, once typing pauses (a long history re-sorts in a tenth of a second)."""
        if event.input.id == "runs-filter":
            if self._filter_timer is not None:
                self._filter_timer.stop()
                self._filter_timer = None
            if len(self.query_one(RunsTable).all_rows) < DEBOUNCE_ABOVE:
                self._apply_filter(event.value)
            else:
                self._filter_timer = self.set_timer(
                    FILTER_DEBOUNCE_S, lambda: self._apply_filter(event.value)
                )

    def _apply_filter(self, text: str) -> None:
        """Filter the table by `text` and say what is wrong with it."""
        self._filter_timer = None
        rest, sweep_names = split_sweep_terms(text)
        run_filter = RunFilter.parse(rest)
        self.query_one(SweepRunsTable).set_filter(run_filter, sweep_names)
        # a bad comparison is left out of the filter and said here, next to what the user typed
        error = self.query_one("#runs-filter-error", Static)
        error.update("  ".join(run_filter.errors))
        error.display = bool(run_filter.errors)
        self._render_title()
        self._render_empty()
        self._render_summary()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter keeps the filter and returns to the table (an empty filter hides the input)."""
        if event.input.id == "runs-filter":
            if self._filter_timer is not None:
                self._filter_timer.stop()
                self._apply_filter(event.value)
            self._show_filter(bool(event.value))
            self.query_one(RunsTable).focus()

    # -- drawing ------------------------------------------------------------------------------------

    def _tick(self) -> None:
        """Spinner frame for running runs (only while this screen is on top)."""
        if self.is_current:
            self.query_one(RunsTable).tick()

    def _on_theme(self) -> None:
        """Status colours depend on the theme: redraw."""
        self.query_one(RunsTable).redraw()
        self._render_title()
        self._render_summary()

    def _render_title(self) -> None:
        """'labconsole  24 runs · 2 running · 1 failed · 1 damaged   (7 shown)   ~/runs' (the path last: may be cut)."""
        table = self.query_one(SweepRunsTable)
        rows = list(table.all_rows.values())
        dark = self.app.current_theme.dark
        title = Text.assemble(("labconsole", "bold"), "  ", f"{len(rows)} run{'s' if len(rows) != 1 else ''}")
        for status in ("running", "queued", "failed", "damaged"):
            count = sum(1 for r in rows if r.status == status)
            if count:
                title.append(" · ")
                title.append(f"{count} {status}", style=status_colour(status, dark))
        if table.groups:
            title.append(f" · {len(table.groups)} sweep{'s' if len(table.groups) != 1 else ''}")
        if table.run_filter.active or table.sweep_names:
            title.append(f" · {table.shown_runs} shown", style="bold")
        if table.marked:
            title.append(f" · {len(table.marked)} marked", style="bold")
        title.append(f"   {_short_path(self.runs_dir)}", style="dim")
        self.query_one("#runs-title", Static).update(title)

    def _render_summary(self) -> None:
        """Describe the run under the cursor (no panel when nothing is selected)."""
        table = self.query_one(SweepRunsTable)
        row, group = table.selected, table.selected_group
        summary = self.query_one(RunSummary)
        summary.display = row is not None or group is not None
        if group is not None:
            summary.update(group_summary(group, self.app.current_theme.dark))
        else:
            summary.show_run(row)

    def _render_empty(self) -> None:
        """Explain an empty table: no runs yet, or a filter that matches none."""
        table = self.query_one(RunsTable)
        note = self.query_one("#runs-empty", Static)
        note.display = self._loaded and not table.visible_ids
        table.display = not note.display
        if table.display and self.focused is None:
            table.focus()
        if table.all_rows:
            note.update(self._no_match_note(table))
        else:
            note.update(
                Text.assemble(
                    f"No runs in {_short_path(self.runs_dir)} yet.  Press ", ("n", "bold"), " to launch one."
                )
            )

    def _no_match_note(self, table: RunsTable) -> Text:
        """'No run matches R@1>95 tag:baseline: R@1>95 keeps none (the highest is 91.2).  esc clears it.'"""
        fields = self.query("#runs-filter")
        text = fields.first(Input).value.strip() if fields else ""
        note = Text("No run matches ")
        note.append(text or "the filter", style="bold")
        blocking = terms_matching_nothing(text, table.all_rows.values())
        single_term = len(text.split()) == 1
        if blocking and single_term:
            note.append(blocking[0][len(text) :])  # the hint alone: the term is the whole filter
        elif blocking:
            note.append(f": {', '.join(blocking)} {'keeps' if len(blocking) == 1 else 'keep'} none")
        elif not single_term:
            note.append(": each term keeps some runs, but no run passes them all")
        return (
            note.append(".\n")
            .append("esc", style="bold")
            .append(" clears the filter, ")
            .append("/", style="bold")
            .append(" edits it.")
        )

    # -- command palette ----------------------------------------------------------------------------

    def palette_commands(self) -> Iterator[PaletteCommand]:
        """Every action of this screen, for the command palette."""
        yield "Open run", "Open the live monitor of the selected run", self.action_open_run
        yield (
            "Sweep table",
            "One row per point of the selected sweep, Delta vs a baseline, stop/pause/extend",
            self.action_sweep_table,
        )
        yield "New run", "Pick a preset, edit overrides, launch", self.action_new_run
        yield "Mark run", "Mark or unmark the selected run for comparison", self.action_mark
        yield "Compare runs", "Metric table, config diff and curves of the marked runs", self.action_compare
        yield "Compose run", "Build a run from presets in the composer", self.action_compose
        yield "Clone run", "Open the composer on the selected run's config", self.action_clone
        yield (
            "Rerun exactly",
            "Launch the selected run's config again, naming what changed since",
            self.action_rerun,
        )
        yield (
            "Figures",
            "The selected run's evaluation figures (retrievals, overlays, confusion)",
            self.action_images,
        )
        yield (
            "Archive run",
            "Hide the selected run from the list (is:archived shows them)",
            self.action_archive,
        )
        yield "Delete run", "Move the selected run to the trash (asks first)", self.action_delete
        yield "Add note", "Add a note to the selected run (kept in its run.json)", self.action_add_note
        yield "Filter runs", "Filter by words, status:…, tag:… or #tag", self.action_filter
        yield "Clear filter", "Show every run again", self.action_clear_filter
        yield "Cycle status filter", "Running → completed → failed → stopped → all", self.action_cycle_status
        yield "Reverse sort", "Flip the sort direction", self.action_sort_reverse
        yield "Add config column", "Show a config.yaml key (optim.lr) as a column", self.action_config_column
        yield "Remove config columns", "Hide every config column", self.action_clear_config_columns
        yield "Refresh runs", "Rescan the runs directory now", self.action_refresh
        for column in COLUMNS:
            what = "best metric" if column.key == "metric" else column.key
            yield (
                f"Sort by {what}",
                f"Sort runs by the '{column.label}' column",
                _bind(self.action_sort_by, column.key),
            )


def _bind(action: Callable[[str], None], key: str) -> Callable[[], None]:
    """`action(key)` as a zero-argument callback."""
    return lambda: action(key)


def _short_path(path: Path) -> str:
    """A path with the home folder shown as ~."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)
