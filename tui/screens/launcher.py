"""The launcher dialog: pick a run preset, edit `key=value` overrides with live validation, launch detached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from tui.format import fmt_count
from tui.widgets.key_bar import KeyBar

VALIDATE_DELAY = 0.3
"""Seconds of quiet typing before the overrides are validated."""

OVERRIDES_HINT = "optim.lr=1e-4\nmodel.backbone.name=resnet50\ntrain.max_steps=2000"
"""Placeholder of the empty overrides editor: what a line looks like."""


@dataclass(frozen=True)
class Check:
    """The outcome of validating a preset plus overrides."""

    summary: str = ""
    """One line describing the resolved run (empty when invalid)."""
    error: str = ""
    """The problem, naming the dotted key (empty when valid)."""
    line: int | None = None
    """1-based override line the error belongs to, when known."""

    @property
    def ok(self) -> bool:
        """Whether the config resolved."""
        return not self.error


def parse_overrides(text: str) -> tuple[list[str], Check | None]:
    """Non-empty, non-comment lines as overrides; a line without '=' is an error naming its line."""
    overrides = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line or line.startswith("="):
            return [], Check(error=f"expected key=value, got '{line}'", line=number)
        overrides.append(line)
    return overrides, None


def error_line(text: str, key: str) -> int | None:
    """The override line whose key is, contains or lies under the error's dotted `key`."""
    if not key:
        return None
    for number, raw in enumerate(text.splitlines(), start=1):
        name = raw.split("=", 1)[0].strip()
        if name and (name == key or key.startswith(name + ".") or name.startswith(key + ".")):
            return number
    return None


def summarize(cfg: dict[str, Any]) -> str:
    """'vpr · resnet50 · gem · multi_similarity · 2,000 steps · cpu' from a resolved config."""
    def name(section: Any) -> str:
        return str(section.get("name", "?")) if isinstance(section, dict) else str(section)

    model = cfg.get("model", {})
    parts = [name(cfg.get("task")), name(model.get("backbone")), name(model.get("aggregator")), name(cfg.get("loss"))]
    steps = cfg.get("train", {}).get("max_steps")
    if isinstance(steps, int):
        parts.append(f"{fmt_count(steps)} steps" if steps else "evaluate only")
    device = cfg.get("device", {})
    if isinstance(device, dict) and device.get("name"):
        amp = device.get("amp")
        parts.append(str(device["name"]) + (f" {amp}" if amp and amp != "off" else ""))
    return " · ".join(parts)


def check_config(preset: str, text: str) -> Check:
    """Resolve `preset` with the overrides in `text` (torch-free); never raises."""
    overrides, problem = parse_overrides(text)
    if problem is not None:
        return problem
    from engine.core.config import resolve_config
    from engine.core.errors import ConfigError, UserError

    try:
        cfg = resolve_config(preset, overrides)
    except ConfigError as exc:
        return Check(error=str(exc), line=error_line(text, exc.key))
    except UserError as exc:
        return Check(error=str(exc))
    return Check(summary=summarize(cfg))


class LauncherScreen(ModalScreen[Path | None]):
    """Compose a run from a preset and overrides; dismisses with the new run folder (None on cancel)."""

    CSS_PATH = "launcher.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "launch", "Launch", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    class Checked(Message):
        """A validation finished (stale ones carry an older generation and are ignored)."""

        def __init__(self, generation: int, check: Check) -> None:
            super().__init__()
            self.generation = generation
            self.check = check

    class Launched(Message):
        """The engine was started for a new run."""

        def __init__(self, run_dir: Path) -> None:
            super().__init__()
            self.run_dir = run_dir

    class LaunchFailed(Message):
        """launch_run refused the config or could not start the engine."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self, runs_dir: Path, overrides: str = "") -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self._initial_overrides = overrides
        self._generation = 0
        self._check = Check(error="not validated yet")
        self._debounce: Timer | None = None
        self._launching = False
        self._descriptions: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        """Title, preset list beside the overrides editor, name, status line, buttons."""
        with Vertical(id="launcher-dialog"):
            yield Static(Text.assemble(("New run", "bold"), ("   ctrl+s launch · esc cancel", "dim")),
                         id="launcher-title")
            with Horizontal(id="launcher-body"):
                with Vertical(id="launcher-left"):
                    yield Label("Preset", classes="launcher-label")
                    yield OptionList(id="launcher-presets")
                with Vertical(id="launcher-right"):
                    yield Label("Overrides  [dim]key=value, one a line[/]", classes="launcher-label")
                    yield TextArea(self._initial_overrides, id="launcher-overrides", soft_wrap=False,
                                   show_line_numbers=True, tab_behavior="focus", placeholder=OVERRIDES_HINT)
            yield Static(id="launcher-description")
            with Horizontal(id="launcher-name-row"):
                yield Label("Name ", classes="launcher-label")
                yield Input(placeholder="from the preset", id="launcher-name", compact=True)
            yield Static(id="launcher-status")
            with Horizontal(id="launcher-buttons"):
                yield Button("Cancel", id="launcher-cancel", compact=True)
                yield Button("Launch", variant="primary", id="launcher-launch", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        """List the run presets and validate the first one."""
        from engine.core.config import describe_presets

        self._descriptions = describe_presets("runs")
        presets = self.query_one("#launcher-presets", OptionList)
        presets.add_options([Option(name, id=name) for name in self._descriptions])
        if self._descriptions:
            presets.highlighted = 0
        else:
            self._show(Check(error="no run presets in presets/runs/"))
        presets.focus()

    # -- validation ---------------------------------------------------------------------------------

    @property
    def preset(self) -> str | None:
        """The highlighted preset name."""
        presets = self.query_one("#launcher-presets", OptionList)
        if presets.highlighted is None:
            return None
        return presets.get_option_at_index(presets.highlighted).id

    @property
    def overrides_text(self) -> str:
        """The override editor's text."""
        return self.query_one("#launcher-overrides", TextArea).text

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """A new preset: show its description and revalidate."""
        self.query_one("#launcher-description", Static).update(
            Text(self._descriptions.get(str(event.option.id), ""), style="dim italic"))
        self._schedule_check()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """Revalidate once typing pauses."""
        self._schedule_check()

    def _schedule_check(self) -> None:
        """(Re)start the debounce timer; the status shows that a check is pending."""
        self._generation += 1
        self._check = Check(error="checking…")
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(VALIDATE_DELAY, self._start_check)

    def _start_check(self) -> None:
        """Validate the current preset and overrides in a thread."""
        if self.preset is not None:
            self._run_check(self._generation, self.preset, self.overrides_text)

    @work(thread=True, exclusive=True, group="launcher-check")
    def _run_check(self, generation: int, preset: str, text: str) -> None:
        """Resolve the config off the UI thread and post the outcome."""
        self.post_message(self.Checked(generation, check_config(preset, text)))

    def on_launcher_screen_checked(self, message: Checked) -> None:
        """Show the newest validation result."""
        if message.generation == self._generation:
            self._check = message.check
            self._show(message.check)

    def _show(self, check: Check) -> None:
        """Red error (with its line) or the green one-line summary; mark the editor invalid on error."""
        status = self.query_one("#launcher-status", Static)
        editor = self.query_one("#launcher-overrides", TextArea)
        editor.set_class(not check.ok and check.line is not None, "-invalid")
        status.set_class(not check.ok, "-error")
        status.set_class(check.ok, "-ok")
        if check.ok:
            status.update(Text("✓ " + check.summary))
        else:
            where = f"line {check.line}: " if check.line is not None else ""
            status.update(Text(f"✗ {where}{check.error}"))

    # -- launching ----------------------------------------------------------------------------------

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a preset launches it."""
        self.action_launch()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the name field launches."""
        self.action_launch()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Launch or cancel."""
        if event.button.id == "launcher-launch":
            self.action_launch()
        else:
            self.action_cancel()

    def action_launch(self) -> None:
        """Launch when the config is valid (validating first if a check is pending)."""
        if self._launching or self.preset is None:
            return
        check = check_config(self.preset, self.overrides_text) if not self._check.ok else self._check
        if not check.ok:
            self._show(check)
            self.app.bell()
            return
        self._launching = True
        overrides, _ = parse_overrides(self.overrides_text)
        name = self.query_one("#launcher-name", Input).value.strip() or None
        self.query_one("#launcher-status", Static).update(Text("… starting the engine"))
        self._launch(self.preset, overrides, name)

    @work(thread=True, exclusive=True, group="launcher-launch")
    def _launch(self, preset: str, overrides: list[str], name: str | None) -> None:
        """Create the run folder and start the engine detached; post the outcome."""
        from engine.core import launch
        from engine.core.errors import UserError

        try:
            paths = launch.launch_run(preset, overrides, runs_dir=self.runs_dir, name=name,
                                      argv=["labconsole", "run", preset, *overrides])
        except UserError as exc:
            self.post_message(self.LaunchFailed(str(exc)))
        except OSError as exc:
            self.post_message(self.LaunchFailed(f"cannot start the engine: {exc}"))
        else:
            self.post_message(self.Launched(paths.root))

    def on_launcher_screen_launched(self, message: Launched) -> None:
        """Close the dialog with the new run folder (the app opens its monitor)."""
        self.dismiss(message.run_dir)

    def on_launcher_screen_launch_failed(self, message: LaunchFailed) -> None:
        """Show why the launch failed and stay open."""
        self._launching = False
        self._check = Check(error=message.error)
        self._show(self._check)

    def action_cancel(self) -> None:
        """Close without launching."""
        self.dismiss(None)
