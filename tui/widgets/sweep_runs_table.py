"""The runs table with sweeps folded: one group row per sweep (progress n/N, running count, best point so far)
that expands (Enter, →) into its runs, indented and labelled by the values they vary, and collapses (←)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from tui.data.run_filter import RunFilter
from tui.data.run_index import RunRow
from tui.data.sweep_groups import SweepGroup, group_sweeps, in_sweeps, point_text, short_keys
from tui.format import fmt_duration, fmt_metric, fmt_started
from tui.widgets.runs_table import COLUMN_WIDTH, RunsTable, fit, sort_rows
from tui.widgets.status_badge import SPINNER_FPS, status_colour

GROUP_KEY = "sweep:"
"""Prefix of a group row's key (run ids never hold a colon, so a group key is never a run's)."""

FOLDED, UNFOLDED = "▸", "▾"
"""The group row's fold mark: its runs hidden, shown."""

BRANCH, LAST_BRANCH = "├ ", "└ "
"""Drawn before each run of an expanded sweep, the last one closing the group."""

POINT_GLYPHS = {"running": "▶"}
"""The glyph of a group row's running count (a spinner would redraw the row twice a second)."""
"""Drawn before each run of an expanded sweep, the last one closing the group."""


class SweepRunsTable(RunsTable):
    """Runs one per row, except a sweep's runs: folded into one group row until it is expanded."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "right", "expand", "Expand", show=False, tooltip="Show the runs of the sweep under the cursor"
        ),
        Binding("left", "collapse", "Collapse", show=False, tooltip="Fold the sweep under the cursor"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups: dict[str, SweepGroup] = {}
        """Every sweep among all rows, by id."""
        self.expanded: set[str] = set()
        """Sweeps whose runs are shown under their group row."""
        self.sweep_names: tuple[str, ...] = ()
        """`sweep:NAME` filter terms: only the runs of matching sweeps, which then show unfolded."""
        self._folded_by_user: set[str] = set()
        self.shown_runs = 0
        """Runs passing the filter, folded ones included."""
        self._members: set[str] = set()

    # -- what is under the cursor -------------------------------------------------------------------

    @property
    def selected(self) -> RunRow | None:
        """The run under the cursor (None on a group row)."""
        key = self.cursor_key
        return None if key is None or key.startswith(GROUP_KEY) else self._rows.get(key)

    @property
    def selected_group(self) -> SweepGroup | None:
        """The sweep whose group row is under the cursor."""
        key = self.cursor_key
        return self.groups.get(key[len(GROUP_KEY) :]) if key and key.startswith(GROUP_KEY) else None

    @property
    def selected_sweep(self) -> SweepGroup | None:
        """The sweep of the row under the cursor: its group row or one of its runs."""
        row = self.selected
        if row is not None:
            return self.groups.get(row.sweep.id) if row.sweep else None
        return self.selected_group

    # -- folding ------------------------------------------------------------------------------------

    def is_open(self, sweep_id: str) -> bool:
        """Whether the sweep's runs are shown (a `sweep:` filter unfolds its sweeps until folded by hand)."""
        if self.sweep_names:
            return sweep_id not in self._folded_by_user
        return sweep_id in self.expanded

    def set_open(self, sweep_id: str, shown: bool) -> None:
        """Unfold or fold a sweep, keeping the cursor on its group row when folding."""
        if self.is_open(sweep_id) == shown:
            return
        (self.expanded.add if shown else self.expanded.discard)(sweep_id)
        (self._folded_by_user.discard if shown else self._folded_by_user.add)(sweep_id)
        if not shown:
            self._cursor_to(GROUP_KEY + sweep_id)
        self._rebuild(self._compute_order())

    def toggle_group(self) -> None:
        """Fold or unfold the sweep whose group row is under the cursor."""
        group = self.selected_group
        if group is not None:
            self.set_open(group.id, not self.is_open(group.id))

    def action_expand(self) -> None:
        """→: unfold the sweep under the cursor."""
        group = self.selected_group
        if group is not None:
            self.set_open(group.id, True)

    def action_collapse(self) -> None:
        """←: fold the sweep under the cursor (on one of its runs too: the cursor goes to its group row)."""
        group = self.selected_sweep
        if group is not None:
            self.set_open(group.id, False)

    def set_filter(self, run_filter: RunFilter, sweep_names: tuple[str, ...] = ()) -> None:
        """Apply a filter and `sweep:` terms (only the runs of matching sweeps, unfolded; () keeps every run)."""
        if sweep_names != self.sweep_names:
            self.sweep_names = sweep_names
            self._folded_by_user.clear()
        super().set_filter(run_filter)

    def _cursor_to(self, key: str) -> None:
        """Put the cursor on row `key` (when shown) before a rebuild keeps it there."""
        if key in self._order:
            self.move_cursor(row=self._order.index(key), animate=False)

    # -- rows and order -----------------------------------------------------------------------------

    def update_rows(self, rows: dict[str, RunRow], changed: frozenset[str] | None = None) -> None:
        """New rows: regroup the sweeps; redraw only changed rows (and changed groups) when the order stays."""
        self._rows = rows
        before = self.groups
        if self._regroup_needed(rows, changed):
            self.groups = group_sweeps(rows.values())
            self._members = {m for g in self.groups.values() for m in g.members}
        order = self._compute_order()
        if order != self._order or changed is None:
            self._rebuild(order)
            return
        keys = set(changed) | {GROUP_KEY + i for i, g in self.groups.items() if before.get(i) != g}
        for key in keys & set(order[: self._materialized]):
            self._update_row(key)

    def _regroup_needed(self, rows: dict[str, RunRow], changed: frozenset[str] | None) -> bool:
        """Whether a sweep's runs changed, appeared or vanished (else a long history is not regrouped per scan)."""
        if changed is None:
            return True
        for run_id in changed:
            row = rows.get(run_id)
            if run_id in self._members or (row is not None and row.sweep is not None):
                return True
        return any(m not in rows for m in self._members)

    def _compute_order(self) -> list[str]:
        """Visible rows: filtered and sorted runs, each sweep's runs replaced by its group row where its first
        run would sort, followed (when unfolded) by its runs in point order."""
        shown = [
            r for r in self._rows.values() if self.run_filter.matches(r) and in_sweeps(r, self.sweep_names)
        ]
        self.shown_runs = len(shown)
        ordered = sort_rows(shown, self.sort_key, self.sort_reverse, self._clock())
        points: dict[str, list[RunRow]] = {}
        for row in ordered:
            if row.sweep is not None:
                points.setdefault(row.sweep.id, []).append(row)
        order: list[str] = []
        for row in ordered:
            if row.sweep is None:
                order.append(row.id)
            elif row.sweep.id in points:
                runs = points.pop(row.sweep.id)
                order.append(GROUP_KEY + row.sweep.id)
                if self.is_open(row.sweep.id):
                    order.extend(r.id for r in sorted(runs, key=lambda r: r.sweep.index if r.sweep else 0))
        return order

    def _materialize(self, count: int) -> None:
        """Add rows (runs and group rows) until the first `count` of the order are in the table."""
        end = min(len(self._order), count)
        for key in self._order[self._materialized : end]:
            self.add_row(*self._key_cells(key), key=key)
        self._materialized = max(self._materialized, end)

    def _update_row(self, run_id: str) -> None:
        """Redraw every visible cell of one row (a run or a group)."""
        for column, cell in zip(self._layout[0], self._key_cells(run_id)):
            self.update_cell(run_id, column.key, cell)

    def _key_cells(self, key: str) -> list[Text]:
        if key.startswith(GROUP_KEY):
            group = self.groups[key[len(GROUP_KEY) :]]
            return [self._group_cell(group, c.key) for c in self._layout[0]]
        return self._row_cells(self._rows[key])

    def _row_cells(self, row: RunRow) -> list[Text]:
        """A sweep run's cells are drawn afresh (its branch mark depends on its place in the group)."""
        if row.sweep is None:
            return super()._row_cells(row)
        return [self._cell(row, c.key) for c in self._layout[0]]

    def tick(self) -> None:
        """Advance running spinners of the runs on screen; refresh live durations once a second."""
        self._ticks += 1
        top = self.scroll_offset.y
        bottom = min(top + self.size.height, self._materialized)
        keys = {c.key for c in self._layout[0]}
        for key in self._order[top:bottom]:
            row = self._rows.get(key)
            if row is None or row.status != "running":
                continue
            self.update_cell(key, "status", self._cell(row, "status"))
            if "duration" in keys and self._ticks % SPINNER_FPS == 0:
                self.update_cell(key, "duration", self._cell(row, "duration"))

    # -- cells --------------------------------------------------------------------------------------

    def _name_cell(self, row: RunRow) -> Text:
        """A sweep run: indented under its group, its varied values first, then its name dimmed."""
        if row.sweep is None:
            return super()._name_cell(row)
        group = self.groups.get(row.sweep.id)
        width = self._layout[1]
        last = group is not None and group.members and group.members[-1] == row.id
        text = Text()
        text.append("  " + (LAST_BRANCH if last else BRANCH), style="dim")
        labels = short_keys(k for k, _ in row.sweep.varied)
        point = point_text(row, labels) or f"point {row.sweep.index + 1}"
        if len(point) > width - len(text):  # narrow: the values alone tell the points apart
            point = " ".join(v for _, v in row.sweep.varied) or point
        text.append(fit(point, width - len(text)), style="bold")
        room = width - len(text) - 2
        if room > 4:
            text.append("  " + fit(row.name, room), style="dim")
        return text

    def _group_cell(self, group: SweepGroup, key: str) -> Text:
        """One cell of a sweep's group row."""
        dark = self._dark()
        if key == "status":
            mark = UNFOLDED if self.is_open(group.id) else FOLDED
            return Text(
                f"{mark} {group.done}/{group.total} done", style=f"bold {self._group_colour(group, dark)}"
            )
        if key == "name":
            return self._group_name(group, dark)
        if key == "metric":
            if group.best is None:
                return Text("–", style="dim", justify="right")
            text = Text(f"{group.metric_name:<4} ", style="dim")
            text.append(f"{fmt_metric(group.best):>5}", style="bold")
            return Text.assemble(text, justify="right")
        members = [self._rows[i] for i in group.members if i in self._rows]
        if key == "duration":
            now = self._clock()
            starts = [r.started for r in members if r.started is not None]
            ends = [r.started + (r.duration(now) or 0.0) for r in members if r.started is not None]
            span = max(ends) - min(starts) if starts else None
            return Text(fmt_duration(span), justify="right")
        if key == "started":
            whens = [r.when for r in members if r.when is not None]
            return Text(
                fmt_started(min(whens) if whens else None, self._clock()), style="dim", justify="right"
            )
        if key == "step":
            return Text(f"{len(members)} runs", style="dim", justify="right")
        if key in COLUMN_WIDTH:
            values = {str(getattr(r, key)) for r in members}
            shown = values.pop() if len(values) == 1 else "*"
            if key == "task":
                shown = shown[:4]
            return Text(fit(shown or "–", COLUMN_WIDTH[key]), style="dim")
        return Text("")

    def _group_name(self, group: SweepGroup, dark: bool) -> Text:
        """'lr-sweep ▶1 ✗1 best lr=3e-3': the sweep's name bold, its running and failed counts (glyphs: they read
        without colour), then its best point as room allows."""
        width = self._layout[1]
        text = Text()
        text.append(fit(group.name, width), style="bold underline")
        counts = [(f"{POINT_GLYPHS['running']}{group.running}", "running"), (f"✗{group.failed}", "failed")]
        for label, status in counts:
            if label[1:] != "0" and len(text) + 1 + len(label) <= width:
                text.append(" ")
                text.append(label, style=f"bold {status_colour(status, dark)}")
        room = width - len(text) - 2
        if group.best_point and room >= 8:
            text.append("  ")
            text.append(fit(f"best {group.best_point}", room), style="dim")
        return text

    @staticmethod
    def _group_colour(group: SweepGroup, dark: bool) -> str:
        """Running blue while any point runs, red after a failure, green once every point is done."""
        if group.running:
            return status_colour("running", dark)
        if group.failed:
            return status_colour("failed", dark)
        if group.done >= group.total:
            return status_colour("completed", dark)
        return status_colour("queued", dark)


def group_summary(group: SweepGroup, dark: bool) -> Text:
    """Three lines on a sweep under the cursor: name and id, its points' progress, its best point and keys."""
    waiting = group.total - group.done - group.running
    progress = Text(f"{group.total} points · {group.done} done")
    if group.failed:
        progress.append(f" ({group.failed} failed)", style=status_colour("failed", dark))
    if group.running:
        progress.append(" · ")
        progress.append(f"{group.running} running", style=status_colour("running", dark))
    if waiting > 0:
        progress.append(f" · {waiting} to run", style="dim")
    best = Text()
    if group.best is not None:
        best.append(f"best {group.metric_name} ")
        best.append(fmt_metric(group.best), style="bold")
        best.append(f" at {group.best_point}" if group.best_point else "")
        best.append("   ")
    best.append("w", style="bold")
    best.append(" its sweep table · ", style="dim")
    best.append("⏎ → ←", style="bold")
    best.append(" show or fold its runs", style="dim")
    name = Text.assemble((group.name, "bold"), ("  sweep ", "dim"), (group.id, "dim"))
    return Text("\n").join([name, progress, best])
