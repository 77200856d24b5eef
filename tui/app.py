"""The labconsole Textual app: a thin router between the runs, launcher, monitor, compare and composer screens."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.screen import Screen

from tui.screens.runs import RunsScreen

if TYPE_CHECKING:
    from tui.screens.composer import ComposerScreen
    from tui.screens.monitor import MonitorScreen

DARK_THEME, LIGHT_THEME = "textual-dark", "textual-light"
"""The themes `ctrl+t` switches between (any other theme can be picked from the palette)."""


def monitor_screen_class() -> type[MonitorScreen]:
    """The monitor screen, imported when first opened (its plots stay out of the console's start)."""
    from tui.screens.monitor import MonitorScreen

    return MonitorScreen


def composer_screen_class() -> type[ComposerScreen]:
    """The composer screen, imported when first opened (it reads presets and YAML)."""
    from tui.screens.composer import ComposerScreen

    return ComposerScreen


class LabConsoleApp(App[int]):
    """The console: opens on the runs screen; Enter monitors a run, `n` launches one."""

    CSS_PATH = "app.tcss"
    TITLE = "labconsole"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+t", "toggle_theme", "Theme", tooltip="Switch between dark and light themes"),
        Binding("question_mark", "toggle_keys", "Keys", tooltip="Show or hide every key of this screen"),
    ]

    def __init__(
        self, runs_dir: Path, clock: Callable[[], float] = time.time, refresh_interval: float = 1.0
    ) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        """The runs directory the console lists and launches into."""
        self.clock = clock
        """Wall clock for durations and spinners (tests freeze it)."""
        self.refresh_interval = refresh_interval
        """Seconds between rescans of the runs directory."""
        self.initial_run: Path | None = None
        """A run whose monitor opens on start (`labconsole demo`)."""
        self.stop_on_signals = False
        """Take SIGTERM/SIGHUP as a quit (the real console; not under tests, whose loop is pytest's)."""

    def on_mount(self) -> None:
        """Open the monitor of the run given on the command line, over the runs screen."""
        if self.stop_on_signals:
            self._exit_on_stop_signals()
        if self.initial_run is not None:
            self.open_monitor(self.initial_run)

    def _exit_on_stop_signals(self) -> None:
        """SIGTERM (kill, a closing tmux) and SIGHUP (a lost SSH session) end the console like `q` does, so the
        driver gives the terminal back (main screen, no mouse tracking, a cursor) instead of leaving a shell
        that needs `reset`."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.exit)

    def get_default_screen(self) -> Screen[Any]:
        """The runs screen is the console's home."""
        return RunsScreen(self.runs_dir, clock=self.clock, refresh_interval=self.refresh_interval)

    # -- routing --------------------------------------------------------------------------------------

    def open_monitor(self, run_dir: Path) -> None:
        """Push the live monitor of `run_dir`."""
        self.push_screen(monitor_screen_class()(Path(run_dir)))

    def open_compare(self, run_dirs: list[Path], baseline: Path | None = None) -> None:
        """Push the compare screen on `run_dirs` (`baseline` first in the table)."""
        from tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen([Path(d) for d in run_dirs], baseline, runs_dir=self.runs_dir))

    def open_composer(self, base: Path | None = None) -> None:
        """Open the composer, blank or prefilled from the config file `base`; a launched run's monitor opens."""
        self.push_screen(composer_screen_class()(self.runs_dir, base), self._on_launched)

    def open_launcher(self) -> None:
        """Open the launcher; a launched run's monitor opens at once."""
        from tui.screens.launcher import LauncherScreen

        self.push_screen(LauncherScreen(self.runs_dir), self._on_launched)

    def _on_launched(self, run_dir: Path | None) -> None:
        """After the launcher or the composer: rescan the runs and monitor the new run."""
        if run_dir is None:
            return
        for screen in self.screen_stack:
            if isinstance(screen, RunsScreen):
                screen.action_refresh()
        self.open_monitor(run_dir)

    # -- themes and palette -----------------------------------------------------------------------

    def action_toggle_keys(self) -> None:
        """`?`: Textual's keys panel beside the current screen (its keys, the focused widget's, the app's)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_toggle_theme(self) -> None:
        """Switch between the dark and the light theme."""
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's commands, the theme toggle, and every action of the current screen."""
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Toggle dark/light", "Switch between the dark and the light theme", self.action_toggle_theme
        )
        commands = getattr(screen, "palette_commands", None)
        if callable(commands):
            keys = self._keys_by_action(screen)
            for title, help_text, callback in commands():
                key = keys.get(getattr(callback, "__name__", "").removeprefix("action_"))
                yield SystemCommand(f"{title}  ({escape(key)})" if key else title, help_text, callback)

    def _keys_by_action(self, screen: Screen[Any]) -> dict[str, str]:
        """The key that runs each action of `screen` ("compare" -> "d"), as the footer shows it."""
        keys: dict[str, str] = {}
        for active in screen.active_bindings.values():
            keys.setdefault(active.binding.action, self.get_key_display(active.binding))
        return keys


def run_console(runs_dir: Path, open_run: Path | None = None) -> int:
    """Run the console on `runs_dir` until the user quits (monitoring `open_run` first); the CLI's exit code."""
    app = LabConsoleApp(Path(runs_dir))
    app.initial_run = open_run
    app.stop_on_signals = True
    app.run()
    return app.return_code or 0
