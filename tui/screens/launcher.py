"""The launcher dialog: pick a run preset or a recipe (the experiment logs, small and @real versions), edit
`key=value` overrides with live validation, launch detached (ctrl+l), open the pick in the composer (ctrl+o) or
save as a preset (ctrl+s, as in the composer); Esc asks before dropping unsaved overrides."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import yaml
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


def launcher_recipes() -> list[tuple[str, str, str]]:
    """(option id, log, description) of each recipe's small and real-data versions, in name order."""
    from engine.core.config.recipes import REAL_SUFFIX, list_recipes, recipe_info

    out = []
    for name in list_recipes():
        try:
            info = recipe_info(name)
        except UserError as exc:
            out.append((name, "?", f"unreadable recipe: {exc}"))
            continue
        log = str(info["log"])
        about = str(info["description"] or info["reproduces"])
        out.append((name, log, about if f"log {log}" in about.lower() else f"log {log} · {about}"))
        if info["real"]:
            out.append((name + REAL_SUFFIX, log, f"log {log}, real data · needs {info['real_data']}"))
    return out


def preset_options(presets: dict[str, str], recipes: list[tuple[str, str, str]]) -> list[Option | None]:
    """The run presets, then the recipes under a heading of their own (each with its log); headings inert."""
    options: list[Option | None] = [Option(Text("Run presets", style="bold dim"), disabled=True)]
    options += [Option(name, id=name) for name in presets]
    if recipes:
        options += [None, Option(Text("Recipes (experiment logs)", style="bold dim"), disabled=True)]
        options += [Option(Text.assemble(name, (f"  log {log}", "dim")), id=name) for name, log, _ in recipes]
    return options


def composer_base(name: str) -> Path:
    """The config file the composer starts from for a listed name: the preset's or recipe's own file; for a
    recipe's real-data version (its overrides applied), a copy written to the cache (`recipes/NAME@real.yaml`)."""
    from engine.core.config.presets import has_preset, preset_path
    from engine.core.config.recipes import RECIPES_SLOT, split_variant
    from engine.core.config.resolve import load_source
    from tui.data.drafts import drafts_dir

    if has_preset("runs", name):
        return preset_path("runs", name)
    recipe, real = split_variant(name)
    if not real:
        return preset_path(RECIPES_SLOT, recipe)
    raw, _ = load_source(name)
    path = drafts_dir().parent / "recipes" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


class LauncherScreen(ModalScreen[Path | None]):
    """Compose a run from a preset and overrides; dismisses with the new run folder (None on cancel)."""

    CSS_PATH = "launcher.tcss"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    """A tall terminal shows twice as many presets and recipes (launcher.tcss)."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "launch", "Launch", priority=True),
        Binding("ctrl+s", "save", SAVE_PRESET_LABEL, priority=True),
        Binding("ctrl+o", "compose", "Composer", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, runs_dir: Path, overrides: str = "") -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        """Where launched runs go."""
        self._initial_overrides = overrides
        self._descriptions: dict[str, str] = {}
        """Each listed preset or recipe variant by its name -> the line shown under the lists."""
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
                    ("New run", "bold"),
                    ("   ^l launch · ^o composer · ^s save preset · esc cancel", "dim"),
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
        """List the run presets, then the recipes; highlighting the first preset validates it."""
        from engine.core.config import describe_presets

        presets = describe_presets("runs")
        recipes = launcher_recipes()
        self._descriptions = {**presets, **{name: text for name, _, text in recipes}}
        options = self.query_one("#launcher-presets", OptionList)
        options.add_options(preset_options(presets, recipes))
        if self._descriptions:
            options.highlighted = options.get_option_index(next(iter(self._descriptions)))
        else:
            self.status.show(Resolved(error="no run presets in presets/runs/"))
        options.focus()
        if self._draft is not None:
            self._restore(self._draft)

    def _restore(self, draft: dict[str, Any]) -> None:
        """Put back the preset, overrides and name left last time."""
        if draft.get("preset") in self._descriptions:
            options = self.query_one("#launcher-presets", OptionList)
            options.highlighted = options.get_option_index(draft["preset"])
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
            Text(self._descriptions.get(str(event.option.id), ""), style="dim italic", overflow="ellipsis")
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

    def action_compose(self) -> None:
        """Open the highlighted preset or recipe in the composer (the overrides typed here stay behind)."""
        if self.preset is None:
            return
        try:
            base = composer_base(self.preset)
        except (UserError, OSError) as exc:
            self.notify(str(exc), title="Cannot open the composer", severity="error", markup=False)
            return
        open_composer = getattr(self.app, "open_composer", None)
        if open_composer is None:
            return
        if self.has_changes:  # the overrides wait in the launcher's draft
            store_draft(
                DRAFT_KEY, {"preset": self.preset, "overrides": self.overrides_text, "name": self.run_name}
            )
        else:
            clear_draft(DRAFT_KEY)
        self.dismiss(None)
        open_composer(base)

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
