"""The steering dialog: send `set key=value …` to a live run and show the engine's answer."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from engine.core.config.overrides import parse_override
from engine.core.errors import UserError
from engine.core.protocol import EventReader, RunPaths, read_json, send_control

ANSWER_TIMEOUT = 30.0
"""Seconds to wait for the engine's control event (it answers at the next step boundary)."""
ANSWER_POLL = 0.1
"""Seconds between two looks at events.jsonl while waiting."""


def parse_values(text: str) -> dict[str, Any]:
    """'optim.lr=1e-4 schedule.power=1.2' → {"optim.lr": 0.0001, "schedule.power": 1.2}; UserError when bad."""
    try:
        items = shlex.split(text)
    except ValueError as exc:
        raise UserError(f"cannot read '{text}': {exc}") from None
    if not items:
        raise UserError("type key=value pairs, e.g. optim.lr=1e-4")
    return {".".join(parts): value for parts, value in map(parse_override, items)}


def settable_keys(info: dict[str, Any]) -> list[str]:
    """What `set` accepts on this run, as its engine published it in run.json (empty until the engine starts)."""
    keys = info.get("settable")
    return [str(k) for k in keys] if isinstance(keys, list) else []


def answer_text(event: dict[str, Any]) -> tuple[str, bool]:
    """('applied at step 120: optim.lr=0.0001', True) or ('rejected: reason', False)."""
    if event.get("status") == "applied":
        values = " ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in (event.get("values") or {}).items()
        )
        return f"applied at step {event.get('step', '?')}" + (f": {values}" if values else ""), True
    return f"rejected: {event.get('reason') or 'no reason given'}", False


class SteerDialog(ModalScreen[None]):
    """An input for `key=value …`, the keys this run accepts, and the engine's answer to each command."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    DEFAULT_CSS = """
    SteerDialog { align: center middle; }
    SteerDialog > Vertical {
        width: 84; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    SteerDialog #steer-title { height: 1; margin-bottom: 1; text-style: bold; }
    SteerDialog #steer-hints { color: $text-muted; margin-top: 1; }
    SteerDialog #steer-answer { margin-top: 1; height: auto; }
    SteerDialog #steer-keys { color: $text-muted; margin-top: 1; height: 1; }
    """

    class Answered(Message):
        """The engine answered command `command_id` with a control event."""

        def __init__(self, command_id: str, event: dict[str, Any]) -> None:
            super().__init__()
            self.command_id = command_id
            """The id send_control returned."""
            self.event = event
            """The engine's control event (status, step, values, reason)."""

    class TimedOut(Message):
        """No answer within the timeout (the engine may be stuck in a long step or gone)."""

        def __init__(self, command_id: str) -> None:
            super().__init__()
            self.command_id = command_id
            """The id send_control returned."""

    def __init__(self, run_dir: Path, live: bool = True, answer_timeout: float = ANSWER_TIMEOUT) -> None:
        super().__init__()
        self.paths = RunPaths(Path(run_dir))
        """The run steered."""
        self.live = live
        """Whether the engine still reads control.jsonl (the input is disabled otherwise)."""
        self.answer_timeout = answer_timeout
        self.pending: str | None = None
        """The id of the command awaiting an answer."""

    def compose(self) -> ComposeResult:
        """Title, input, settable keys, answer line, key help."""
        config = self._config()
        with Vertical():
            yield Static(f"Set on {config.get('name') or self.paths.run_id}", id="steer-title")
            yield Input(
                placeholder="optim.lr=1e-4 schedule.power=1.2 loss.weight.cosface=0.5 freeze.backbone=on",
                id="steer-input",
                disabled=not self.live,
            )
            keys = settable_keys(read_json(self.paths.run_json) or {})
            hints = (
                "settable: " + "  ".join(keys) if keys else "settable keys appear once the engine has started"
            )
            yield Static(hints, id="steer-hints")
            yield Static(self._idle_text(), id="steer-answer")
            yield Static(
                Text.assemble(("enter", "bold"), " send   ", ("esc", "bold"), " close"), id="steer-keys"
            )

    def _config(self) -> dict[str, Any]:
        """The run's resolved config ({} when unreadable)."""
        import yaml

        try:
            loaded = yaml.safe_load(self.paths.config.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _idle_text(self) -> Text:
        """What the answer line says before anything was sent."""
        if self.live:
            return Text("The engine applies changes at the next step boundary.", style="dim")
        status = (read_json(self.paths.run_json) or {}).get("status", "finished")
        return Text(f"The run is {status}: nothing can be changed any more.", style="yellow")

    def on_mount(self) -> None:
        """Focus the input."""
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Parse, send, and wait for the answer."""
        event.stop()
        if not self.live:
            return
        try:
            values = parse_values(event.value)
        except UserError as exc:
            self._say(Text(str(exc), style="red"))
            return
        try:
            offset = self.paths.events.stat().st_size if self.paths.events.exists() else 0
            command_id = send_control(self.paths.control, "set", values)
        except (OSError, UserError) as exc:
            self._say(Text(f"could not send: {exc}", style="red"))
            return
        self.pending = command_id
        self._say(Text(f"sent ({command_id}); waiting for the engine…", style="dim"))
        self._await_answer(command_id, offset)

    @work(thread=True, exclusive=True, group="steer-answer", name="steer-answer")
    def _await_answer(self, command_id: str, offset: int) -> None:
        """Follow events.jsonl from `offset` until the engine's control event for `command_id`."""
        worker = get_current_worker()
        reader = EventReader(self.paths.events, offset=offset)
        deadline = time.monotonic() + self.answer_timeout
        while not worker.is_cancelled and time.monotonic() < deadline:
            for ev in reader.read_new():
                if ev.get("kind") == "control" and ev.get("id") == command_id:
                    self.post_message(self.Answered(command_id, ev))
                    return
            time.sleep(ANSWER_POLL)
        if not worker.is_cancelled:
            self.post_message(self.TimedOut(command_id))

    def on_steer_dialog_answered(self, message: Answered) -> None:
        """Show the answer in the dialog and as a notification."""
        text, applied = answer_text(message.event)
        self.pending = None
        self._say(Text(text, style="green" if applied else "red"))
        self.app.notify(text, title="Set", severity="information" if applied else "error", timeout=4)

    def on_steer_dialog_timed_out(self, message: TimedOut) -> None:
        """Say that the engine did not answer in time."""
        self.pending = None
        text = f"no answer within {self.answer_timeout:g}s: is the engine still running?"
        self._say(Text(text, style="yellow"))
        self.app.notify(text, title="Set", severity="warning")

    def _say(self, text: Text) -> None:
        """Replace the answer line."""
        self.query_one("#steer-answer", Static).update(text)

    def action_close(self) -> None:
        """Close the dialog (a pending answer is still reported by the monitor's notifications)."""
        self.dismiss(None)
