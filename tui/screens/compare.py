"""The compare screen: runs side by side — metric table with deltas, config diff, overlaid curves, exports."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static, TabbedContent, TabPane

from engine.core.errors import UserError
from tui.cli.compare_cmd import build_comparison, render_comparison
from tui.data.chart_prefs import load_charts, store_charts
from tui.data.compare_runs import CompareRun, load_run, metric_rows, ordered, protocol_rows
from tui.widgets.chart_keys import CHART_VIEW_BINDINGS
from tui.widgets.compare_curves import CompareCurves, compare_choices, default_charts
from tui.widgets.compare_diff import ConfigDiff
from tui.widgets.compare_table import CompareTable
from tui.widgets.key_bar import KeyBar

TABS = ("metrics", "config", "curves")
"""Tab ids, in the order of their keys 1–3."""
PaletteCommand = tuple[str, str, Callable[[], object]]


def export_folder(runs_dir: Path, now: float) -> Path:
    """`<runs_dir>/exports/<YYYYmmdd-HHMMSS>` (local time)."""
    return runs_dir / "exports" / time.strftime("%Y%m%d-%H%M%S", time.localtime(now))


def write_exports(runs: list[CompareRun], folder: Path, what: str) -> list[Path]:
    """Write the comparison (`runs[0]`: the baseline) as "markdown", "csv" or "full" (both, run CSVs, PNGs)."""
    folder.mkdir(parents=True, exist_ok=True)
    comparison = build_comparison(runs)  # what `labconsole compare` writes: names, pp, the screen's rows
    written = []
    for fmt, name in (("markdown", "compare.md"), ("csv", "compare.csv")):
        if what in (fmt, "full"):
            (folder / name).write_text(str(render_comparison(comparison, fmt)), encoding="utf-8")
            written.append(folder / name)
    if what == "full":
        from engine.core.export import collect, plot_curves, write_csvs
        from engine.core.protocol import RunPaths

        for run in runs:
            written += write_csvs(collect(RunPaths(run.dir)), folder / run.id)
        written += plot_curves([run.dir for run in runs], folder)  # drawn by the engine side (matplotlib)
    return written


class CompareScreen(Screen[None]):
    """Two or more runs side by side; `b` changes the baseline, `m`/`v`/`x` export."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        Binding("b", "next_baseline", "Baseline", tooltip="Make the next run the baseline"),
        Binding("m", "export('markdown')", "Markdown", tooltip="Write the metric table as markdown"),
        Binding("v", "export('csv')", "CSV", tooltip="Write the metric table as CSV"),
        Binding("x", "export('full')", "Export", tooltip="CSV + markdown + PNG plots of every run"),
        Binding("1", "tab('metrics')", "Metrics", show=False),
        Binding("2", "tab('config')", "Config", show=False),
        Binding("3", "tab('curves')", "Curves", show=False),
        Binding("g", "pick_charts", "Charts", tooltip="Choose the curves: any series the runs logged"),
        *CHART_VIEW_BINDINGS,
    ]

    DEFAULT_CSS = """
    CompareScreen #cmp-title { height: auto; max-height: 3; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    CompareScreen TabbedContent { height: 1fr; }
    CompareScreen TabPane { padding: 0; height: 1fr; }
    CompareScreen #cmp-empty { padding: 1 2; color: $text-muted; }
    """

    class RunsLoaded(Message):
        """Every run folder was read."""

        def __init__(self, runs: list[CompareRun]) -> None:
            super().__init__()
            self.runs = runs
            """The runs, in the screen's order."""

    class ExportWritten(Message):
        """An export finished."""

        def __init__(self, folder: Path, files: list[Path]) -> None:
            super().__init__()
            self.folder = folder
            """Where the files went."""
            self.files = files
            """Every file written."""

    class ExportFailed(Message):
        """An export raised."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error
            """What went wrong, one line."""

    def __init__(
        self,
        run_dirs: list[Path],
        baseline: Path | None = None,
        runs_dir: Path | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        dirs = [Path(d) for d in run_dirs]
        if baseline is not None and Path(baseline) not in dirs:
            dirs.insert(0, Path(baseline))
        self.run_dirs = dirs
        """The runs compared, in column order (before the baseline is moved first)."""
        self.baseline = dirs.index(Path(baseline)) if baseline is not None else 0
        """Index in `run_dirs` of the baseline run."""
        self.runs_dir = Path(runs_dir) if runs_dir else (dirs[0].parent if dirs else Path("."))
        """Exports go to `<runs_dir>/exports/`."""
        self._clock_arg = clock
        self._runs: list[CompareRun] = []

    @property
    def runs(self) -> list[CompareRun]:
        """The loaded runs with the baseline first ([] while loading)."""
        return ordered(self._runs, self.baseline) if self._runs else []

    def compose(self) -> ComposeResult:
        """Title, three tabs, footer."""
        yield Static(Text("reading runs…", style="dim"), id="cmp-title")
        with TabbedContent(id="cmp-tabs"):
            with TabPane("1 metrics", id="metrics"):
                yield CompareTable(id="cmp-table")
            with TabPane("2 config diff", id="config"):
                yield ConfigDiff(id="cmp-diff")
            with TabPane("3 curves", id="curves"):
                yield CompareCurves(id="cmp-curves")
        yield KeyBar()

    def on_mount(self) -> None:
        """Read the run folders in a thread."""
        self._load()
        self.watch(self.app, "theme", self._show, init=False)

    @work(thread=True, exclusive=True, group="compare-load", name="compare-load")
    def _load(self) -> None:
        """Read run.json, config.yaml and events.jsonl of every run."""
        self.post_message(self.RunsLoaded([load_run(d) for d in self.run_dirs]))

    def on_compare_screen_runs_loaded(self, message: RunsLoaded) -> None:
        """Fill every tab."""
        self._runs = message.runs
        self._show()

    # -- drawing ----------------------------------------------------------------------------------

    def _show(self) -> None:
        """Redraw the title and every tab for the current baseline."""
        runs = self.runs
        if not runs:
            return
        self._render_title(runs)
        rows = metric_rows(runs) + protocol_rows(runs)
        self.query_one(CompareTable).show(runs, rows, self.app.current_theme.dark)
        self.query_one(ConfigDiff).show(runs)
        curves = self.query_one(CompareCurves)
        charts = None if curves.charts else load_charts("compare", self._charts_task(runs))
        self.run_worker(curves.show(runs, charts), group="compare-curves", exclusive=True)

    @staticmethod
    def _charts_task(runs: list[CompareRun]) -> str:
        """The baseline's task: the curves chosen are remembered per task."""
        task = runs[0].info.get("task") if runs else None
        return str(task) if isinstance(task, str) and task else "default"

    def _render_title(self, runs: list[CompareRun]) -> None:
        """'compare  3 runs · baseline r50-gem-baseline · final metrics (best when unfinished)'."""
        title = Text.assemble(("compare", "bold"), f"  {len(runs)} runs · baseline ", (runs[0].name, "bold"))
        title.append("   final metrics (best while unfinished) · Δ against the baseline", style="dim")
        for warning in build_comparison(runs).warnings:  # different tasks, untrained runs: as the CLI says
            title.append(f"\n⚠ {warning}", style="bold yellow")
        self.query_one("#cmp-title", Static).update(title)

    # -- actions ------------------------------------------------------------------------------------

    def action_back(self) -> None:
        """Hide the curves' cursor first, else return to the runs list."""
        curves = self.query_one(CompareCurves)
        if curves.cursor is not None:
            curves.cursor = None
            return
        self.dismiss(None)

    def _curves(self) -> CompareCurves:
        """The curves, shown (their keys act on them: the tab comes forward)."""
        self.query_one(TabbedContent).active = "curves"
        return self.query_one(CompareCurves)

    def action_pick_charts(self) -> None:
        """Choose the curves among every series the runs logged."""
        from tui.screens.series_picker import SeriesPicker

        runs = self.runs
        if not runs:
            self.notify("still reading the runs", severity="warning")
            return
        curves = self._curves()
        self.app.push_screen(
            SeriesPicker(compare_choices(runs), curves.charts, default_charts(runs)), self._set_charts
        )

    async def _set_charts(self, charts: list[str] | None) -> None:
        if charts is None:
            return
        await self.query_one(CompareCurves).set_charts(charts)
        store_charts("compare", self._charts_task(self.runs), charts)

    def action_log_y(self) -> None:
        curves = self._curves()
        curves.log_y = not curves.log_y
        self.notify("log" if curves.log_y else "linear", title="y axis", timeout=1.5)

    def action_x_axis(self) -> None:
        self.notify(f"x by {self._curves().next_x_axis()}", title="x axis", timeout=1.5)

    def action_cursor(self, columns: int) -> None:
        if self._curves().move_cursor(columns) is None:
            self.notify("no curves yet", title="Cursor", severity="warning", timeout=1.5)

    def action_next_baseline(self) -> None:
        """Make the next run the baseline."""
        if len(self.run_dirs) < 2:
            return
        self.baseline = (self.baseline + 1) % len(self.run_dirs)
        self._show()
        if self._runs:
            self.notify(self.runs[0].name, title="Baseline", timeout=1.5, markup=False)

    def action_tab(self, tab: str) -> None:
        """Show tab `tab`."""
        self.query_one(TabbedContent).active = tab

    def action_export(self, what: str) -> None:
        """Write markdown, CSV or everything to `<runs_dir>/exports/<timestamp>/` in a thread."""
        if not self._runs:
            self.notify("still reading the runs", severity="warning")
            return
        clock: Callable[[], float] = getattr(self.app, "clock", time.time)
        now = (self._clock_arg or clock)()
        self._export(self.runs, export_folder(self.runs_dir, now), what)

    @work(thread=True, group="compare-export", name="compare-export")
    def _export(self, runs: list[CompareRun], folder: Path, what: str) -> None:
        """Write the files; post the outcome."""
        try:
            files = write_exports(runs, folder, what)
        except UserError as exc:  # e.g. PNG plots need the engine extra: say which
            self.post_message(self.ExportFailed(str(exc)))
            return
        except Exception as exc:
            self.post_message(self.ExportFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.ExportWritten(folder, files))

    def on_compare_screen_export_written(self, message: ExportWritten) -> None:
        """Say where the files are."""
        names = ", ".join(f.name for f in message.files[:3]) + (" …" if len(message.files) > 3 else "")
        self.notify(
            f"{message.folder}\n{names}",
            title=f"Exported {len(message.files)} files",
            timeout=6,
            markup=False,
        )

    def on_compare_screen_export_failed(self, message: ExportFailed) -> None:
        """Say why the export failed."""
        self.notify(message.error, title="Export failed", severity="error", timeout=8, markup=False)

    # -- command palette ----------------------------------------------------------------------------

    def palette_commands(self) -> Iterator[PaletteCommand]:
        """Every action of this screen, for the command palette."""
        yield "Back to runs", "Return to the runs list", self.action_back
        yield "Next baseline", "Make the next run the baseline", self.action_next_baseline
        yield (
            "Export markdown",
            "Metric | Baseline | Candidate | Delta table",
            _bind(self.action_export, "markdown"),
        )
        yield "Export CSV", "The metric table as CSV", _bind(self.action_export, "csv")
        yield (
            "Export everything",
            "Markdown, CSV, per-run scalars and PNG plots",
            _bind(self.action_export, "full"),
        )
        yield "Choose curves", "Any series the runs logged (g)", self.action_pick_charts
        yield "Log scale", "Toggle log y on the curves (y)", self.action_log_y
        yield "x axis", "Step → epoch → time (a)", self.action_x_axis
        yield "Cursor", "Exact values at a step ([ and ]; esc hides)", lambda: self.action_cursor(1)
        for i, tab in enumerate(TABS, start=1):
            yield f"Show {tab}", f"Key {i}", _bind(self.action_tab, tab)


def _bind(action: Callable[[str], None], arg: str) -> Callable[[], None]:
    """`action(arg)` as a zero-argument callback."""
    return lambda: action(arg)
