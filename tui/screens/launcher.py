"""The launcher dialog: pick a run preset, edit `key=value` overrides with live validation, launch detached
(ctrl+l) or save as a preset (ctrl+s, as in the composer); Esc asks before dropping unsaved overrides."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from engine.core.config.presets import save_user_preset
from engine.core.errors import UserError
from tui.data.drafts import clear_draft, load_draft, store_draft
from tui.data.launching import LaunchRequest, Resolved, resolve
from tui.data.override_lines import OVERRIDES_HINT, error_line, parse_overrides
from tui.screens.composer import SAVE_PRESET_LABEL, save_preset_dialog, short_path
from tui.screens.confirm_discard import ConfirmDiscard, LeaveAnswer
from tui.widgets.key_bar import KeyBar
from tui.widgets.launch_status import LaunchStatus

DRAFT_KEY = "launcher"
"""The launcher keeps one draft: its preset, overrides and name."""


def resolve_overrides(preset: str, text: str) -> tuple[Resolved, int | None]:
    """`preset` resolved with the editor's overrides, and the editor line the error belongs to (when known)."""
    overrides, problem = parse_overrides(text)
    if problem is not None:
        number, why = problem
        return Resolved(error=why), number
    result = resolve(preset, overrides)
    return result, error_line(text, result.key)


class LauncherScreen(ModalScreen[Path | None]):
    """Compose a run from a preset and overrides; dismisses with the new run folder (None on cancel)."""

    CSS_PATH = "launcher.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "launch", "Launch", priority=True),
        Binding("ctrl+s", "save", SAVE_PRESET_LABEL, priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, runs_dir: Path, overrides: str = "") -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        """Where launched runs go."""
        self._initial_overrides = overrides
        self._descriptions: dict[str, str] = {}
        self.validation = Resolved(error="not validated yet")
        """The latest validation of the highlighted preset with the overrides."""
        self._error_line: int | None = None
        self._draft = load_draft(DRAFT_KEY)
        """The draft left last time (restored on mount), or None."""

    def compose(self) -> ComposeResult:
        """Title, preset list beside the overrides editor, name, status line, buttons."""
        with Vertical(id="launcher-dialog"):
            yield Static(
                Text.assemble(
                    ("New run", "bold"), ("   ctrl+l launch · ctrl+s save preset · esc cancel", "dim")
                ),
                id="launcher-title",
            )
            with Horizontal(id="launcher-body"):
                with Vertical(id="launcher-left"):
                    yield Label("Preset", classes="launcher-label")
                    yield OptionList(id="launcher-presets")
                with Vertical(id="launcher-right"):
                    yield Label("Overrides  [dim]key=value, one a line[/]", classes="launcher-label")
                    yield TextArea(
                        self._initial_overrides,
                        id="launcher-overrides",
                        soft_wrap=False,
                        show_line_numbers=True,
                        tab_behavior="focus",
                        placeholder=OVERRIDES_HINT,
                    )
            yield Static(id="launcher-description")
            with Horizontal(id="launcher-name-row"):
                yield Label("Name ", classes="launcher-label")
                yield Input(placeholder="from the preset", id="launcher-name", compact=True)
            yield LaunchStatus(id="launcher-status")
            with Horizontal(id="launcher-buttons"):
                yield Button("Cancel", id="launcher-cancel", compact=True)
                yield Button("Launch", variant="primary", id="launcher-launch", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        """List the run presets; highlighting the first one validates it."""
        from engine.core.config import describe_presets

        self._descriptions = describe_presets("runs")
        presets = self.query_one("#launcher-presets", OptionList)
        presets.add_options([Option(name, id=name) for name in self._descriptions])
        if self._descriptions:
            presets.highlighted = 0
        else:
            self.status.show(Resolved(error="no run presets in presets/runs/"))
        presets.focus()
        if self._draft is not None:
            self._restore(self._draft)

    def _restore(self, draft: dict[str, Any]) -> None:
        """Put back the preset, overrides and name left last time."""
        names = list(self._descriptions)
        if draft.get("preset") in names:
            self.query_one("#launcher-presets", OptionList).highlighted = names.index(draft["preset"])
        self.query_one("#launcher-overrides", TextArea).text = str(draft.get("overrides") or "")
        self.query_one("#launcher-name", Input).value = str(draft.get("name") or "")
        self.notify("esc then d discards it", title="Draft restored", markup=False)

    @property
    def status(self) -> LaunchStatus:
        """The status line, which also launches."""
        return self.query_one(LaunchStatus)

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

    # -- validation ---------------------------------------------------------------------------------

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """A new preset: show its description and revalidate."""
        self.query_one("#launcher-description", Static).update(
            Text(self._descriptions.get(str(event.option.id), ""), style="dim italic")
        )
        self.status.revalidate_soon(self.revalidate)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """Revalidate once typing pauses."""
        self.status.revalidate_soon(self.revalidate)

    def revalidate(self) -> Resolved:
        """Resolve the highlighted preset with the overrides now; the status line and the editor show the outcome."""
        self.status.cancel_pending()
        if self.preset is None:
            return self.validation
        self.validation, line = resolve_overrides(self.preset, self.overrides_text)
        self._mark_line(line)
        self.status.show(self.validation, f"line {line}: " if line is not None else "")
        return self.validation

    def _mark_line(self, line: int | None) -> None:
        """Outline the editor in red while one of its lines is wrong."""
        self._error_line = line
        self.query_one("#launcher-overrides", TextArea).set_class(line is not None, "-invalid")

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
        """Launch when the preset and overrides resolve (validated now, whatever the debounce had pending)."""
        preset = self.preset
        if self.status.launching or preset is None:
            return
        if not self.revalidate().ok:
            self.status.refuse(self.validation)
            self._go_to_error()
            return
        overrides, _ = parse_overrides(self.overrides_text)
        name = self.query_one("#launcher-name", Input).value.strip() or None
        argv = ("labconsole", "run", preset, *overrides)
        self.status.launch(LaunchRequest(preset, tuple(overrides), name, argv), self.runs_dir)

    def _go_to_error(self) -> None:
        """Put the cursor at the end of the override line the error names."""
        line = self._error_line
        if line is not None:
            editor = self.query_one("#launcher-overrides", TextArea)
            editor.focus()
            editor.cursor_location = (line - 1, len(editor.document.get_line(line - 1)))

    def on_launch_status_launched(self, message: LaunchStatus.Launched) -> None:
        """Close the dialog with the new run folder (the app opens its monitor); the draft became a run."""
        clear_draft(DRAFT_KEY)
        self.dismiss(message.run_dir)

    def on_launch_status_failed(self, message: LaunchStatus.Failed) -> None:
        """The status line says why; mark the override line the engine's error names."""
        self._mark_line(error_line(self.overrides_text, message.failure.key))

    # -- saving and leaving --------------------------------------------------------------------------

    @property
    def run_name(self) -> str:
        """The name typed in the name field ('' for the preset's)."""
        return self.query_one("#launcher-name", Input).value.strip()

    def action_save(self) -> None:
        """Ask for a name, then write the resolved preset + overrides as a user run preset (as the composer does)."""
        if self.preset is None:
            return
        if not self.revalidate().ok:
            self.status.refuse(self.validation, "saving")
            self._go_to_error()
            return
        self.app.push_screen(save_preset_dialog(self.run_name or self.preset), self._save_as)

    def _save_as(self, name: str | None) -> None:
        """Write the validated config under `name`; the overrides live on in the preset, so the draft is done."""
        if not name or self.validation.cfg is None:
            return
        raw = {**copy.deepcopy(self.validation.cfg), "name": name}
        try:
            path = save_user_preset("runs", name, raw)
        except UserError as exc:
            self.notify(str(exc), title="Preset not saved", severity="error", markup=False)
            return
        clear_draft(DRAFT_KEY)
        self._initial_overrides = self.overrides_text
        self.notify(f"saved {short_path(path)}", title="Preset saved", markup=False)

    @property
    def has_changes(self) -> bool:
        """Whether overrides or a name were typed (and neither launched nor saved): leaving then asks."""
        return self.overrides_text.strip() != self._initial_overrides.strip() or bool(self.run_name)

    def action_cancel(self) -> None:
        """Close without launching; with unsaved overrides or a name, ask first."""
        if not self.has_changes:
            clear_draft(DRAFT_KEY)
            self.dismiss(None)
            return
        self.app.push_screen(ConfirmDiscard("these overrides"), self._leave)

    def _leave(self, answer: LeaveAnswer | None) -> None:
        """Act on the leave dialog's answer."""
        if answer == "keep-draft":
            draft = {"preset": self.preset, "overrides": self.overrides_text, "name": self.run_name}
            store_draft(DRAFT_KEY, draft)
            self.dismiss(None)
        elif answer == "discard":
            clear_draft(DRAFT_KEY)
            self.dismiss(None)
