"""The status line of a launch surface (launcher, composer): validation outcome, refusals, and the launch itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import work
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from tui.data.launching import VALIDATE_DELAY, LaunchRequest, Resolved, launch, summarize

STARTING = "… starting the engine"
"""Shown while the engine checks the data and starts (a few seconds)."""


class LaunchStatus(Static):
    """`✓ <the run in one line>`, `✗ <what is wrong>` or `… starting the engine`; launches in a thread worker.

    Both launch surfaces validate through it (debounced while typing) and launch through it, so they report
    the same way: the screen resolves its inputs and marks errors inline; this line says the rest.
    """

    DEFAULT_CSS = """
    LaunchStatus.-ok { color: $text-success; }
    LaunchStatus.-error { color: $text-error; }
    """

    class Launched(Message):
        """The engine was started for a new run."""

        def __init__(self, run_dir: Path) -> None:
            super().__init__()
            self.run_dir = run_dir
            """The new run folder."""

    class Failed(Message):
        """The engine refused the config or could not start; the surface stays open."""

        def __init__(self, failure: Resolved) -> None:
            super().__init__()
            self.failure = failure
            """Why, shown like a validation error (with its key when the engine named one)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._debounce: Timer | None = None
        self._launching = False

    @property
    def pending(self) -> bool:
        """Whether a revalidation waits for typing to pause."""
        return self._debounce is not None

    @property
    def launching(self) -> bool:
        """Whether a launch is under way (a second one is ignored)."""
        return self._launching

    # -- validation ---------------------------------------------------------------------------------------

    def revalidate_soon(self, revalidate: Callable[[], object]) -> None:
        """Call `revalidate` once no edit came for VALIDATE_DELAY seconds."""
        self.cancel_pending()
        self._debounce = self.set_timer(VALIDATE_DELAY, lambda: self._due(revalidate))

    def _due(self, revalidate: Callable[[], object]) -> None:
        self._debounce = None
        revalidate()

    def cancel_pending(self) -> None:
        """Drop a scheduled revalidation (the screen validates now)."""
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None

    def show(self, result: Resolved, where: str = "") -> None:
        """`✓ summary` in green, or `✗ <where><key>: error` in red (the line keeps saying the engine is starting)."""
        if self._launching:
            return
        if result.ok:
            assert result.cfg is not None
            self._line(f"✓ {summarize(result.cfg)}", "-ok")
        else:
            self._line(f"✗ {where}{result.problem}", "-error")

    def refuse(self, result: Resolved, doing: str = "launching") -> None:
        """Ring and say what to fix first (the error itself is already on the screen)."""
        self.app.bell()
        self.notify(f"fix {result.key or 'the config'} before {doing}", severity="error", markup=False)

    def _line(self, text: str, kind: str) -> None:
        self.set_class(kind == "-ok", "-ok")
        self.set_class(kind == "-error", "-error")
        self.update(Text(text))

    # -- launching ----------------------------------------------------------------------------------------

    def launch(self, request: LaunchRequest, runs_dir: Path) -> None:
        """Start the engine in a thread worker; `Launched` or `Failed` follows."""
        if self._launching:
            return
        self._launching = True
        self.cancel_pending()
        self._line(STARTING, "")
        self._launch(request, runs_dir)

    @work(thread=True, exclusive=True, group="launch")
    def _launch(self, request: LaunchRequest, runs_dir: Path) -> None:
        """Create the run folder and start the engine off the UI thread; post the outcome."""
        outcome = launch(request, runs_dir)
        if outcome.run_dir is not None:
            self.post_message(self.Launched(outcome.run_dir))
        else:
            self.post_message(self.Failed(outcome.failure or Resolved(error="the launch failed")))

    def on_launch_status_failed(self, message: Failed) -> None:
        """Say why, in full in a toast too (one line cannot hold a data path at 80 columns); allow another try.

        The message goes on to the screen, which marks the key inline.
        """
        self._launching = False
        self.show(message.failure)
        self.notify(message.failure.problem, title="Not launched", severity="error", markup=False)
