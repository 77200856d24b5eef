"""The composer: a run built from presets slot by slot, validated as you type; count params, save, launch."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Static, TabbedContent, TabPane

from engine.core.config import TYPED_SECTIONS, field_help
from engine.core.config.presets import (
    PRESETS_DIR,
    is_shipped_preset,
    preset_path,
    save_user_preset,
    user_preset_path,
    user_presets_dir,
)
from engine.core.config.schema import ModelConfig, TrainConfig
from engine.core.errors import UserError
from tui.data import check_runner
from tui.data.composer_config import format_value, get_path, load_base, preview_yaml, split_section
from tui.data.drafts import clear_draft, draft_key, load_draft, store_draft
from tui.data.launching import LaunchRequest, Resolved, composed_argv, fresh_run_name, resolve, run_names
from tui.screens.confirm_discard import ConfirmDiscard, LeaveAnswer
from tui.screens.save_preset import SavePresetScreen
from tui.widgets.composer_loss import LossRow
from tui.widgets.composer_lr import LRPlot
from tui.widgets.composer_params import ParamTable
from tui.widgets.composer_slot import FieldInput, SlotRow
from tui.widgets.key_bar import KeyBar
from tui.widgets.launch_status import LaunchStatus

SAVE_PRESET_LABEL = "Save preset"
"""The footer label of ctrl+s, the same on every launch surface (the launcher imports it)."""

NARROW_WIDTH = 110
"""Terminal width below which the slot rows stack their fields (one per line)."""

SLOTS: tuple[tuple[str, str, str], ...] = (
    ("task", "task", "task"),
    ("backbone", "backbone", "model.backbone"),
    ("aggregator", "aggregator", "model.aggregator"),
    ("head", "head", "model.head"),
    ("loss", "loss", "loss"),
    ("optim", "optim", "optim"),
    ("schedule", "schedule", "schedule"),
    ("freeze", "freeze", "freeze"),
    ("augment", "augment", "augment"),
    ("device", "device", "device"),
)
"""(row label, preset slot, section path), top to bottom."""

EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "run": ("name", "train.max_steps"),
    "head": ("model.descriptor_dim",),
}
"""Fields outside a slot's section, shown on a row: dotted paths."""

EXTRA_DEFAULTS: dict[str, Any] = {
    "train.max_steps": TrainConfig.max_steps,
    "model.descriptor_dim": ModelConfig.descriptor_dim,
}
"""What those fields show when the base config leaves them out."""


def short_path(path: Path) -> str:
    """`presets/runs/demo.yaml` for presets, else the path relative to the current folder when below it."""
    for root in (PRESETS_DIR.parent, Path.cwd()):
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return str(path)


def is_run_config(path: Path) -> bool:
    """Whether `path` is a run folder's config.yaml (the composer then clones that run)."""
    return path.name == "config.yaml" and (path.parent / "run.json").is_file()


def help_for(path: str) -> dict[str, str]:
    """Per-field help of a typed section (tooltips), plus the model- and train-level fields."""
    helps = field_help(TYPED_SECTIONS[path]) if path in TYPED_SECTIONS else {}
    return {**helps, **field_help(ModelConfig), "max_steps": field_help(TrainConfig)["max_steps"]}


class ComposerScreen(Screen[Path | None]):
    """Dismisses with the launched run's folder (the app opens its monitor), or None."""

    CSS_PATH = "composer.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "launch", "Launch", priority=True),
        Binding("ctrl+s", "save", SAVE_PRESET_LABEL, priority=True),
        Binding("t", "params", "Params"),
        Binding("ctrl+r", "params", "Params", show=False, priority=True),
        Binding("escape", "close", "Back"),
    ]

    class ParamsCounted(Message):
        """`labconsole check --json` finished."""

        def __init__(self, result: check_runner.CheckResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, runs_dir: Path, base: Path | None = None) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        """Where launched runs go."""
        self.base_path = Path(base) if base is not None else preset_path("runs", "demo")
        """The config the composer started from."""
        self.base_raw, self._base_problem = load_base(self.base_path)
        if is_run_config(self.base_path) and isinstance(self.base_raw.get("name"), str):
            # a clone is a new run: it must not share its source's name (nor an earlier clone's)
            self.base_raw["name"] = fresh_run_name(self.base_raw["name"], run_names(self.runs_dir))
        self.draft_key = draft_key("composer", self.base_path)
        """Where this base config's unsent draft is kept."""
        self._pristine: dict[str, Any] | None = None
        """The config as the screen opened on it (no edits): leaving with anything else asks first."""
        self._saved_preset: tuple[str, dict[str, Any]] | None = None
        """(name, config) of the last save as a preset: launching it unchanged records `labconsole run <name>`."""
        draft = load_draft(self.draft_key)
        if draft and isinstance(draft.get("config"), dict) and isinstance(draft.get("pristine"), dict):
            self.base_raw, self._pristine = draft["config"], draft["pristine"]
            self._draft_restored = True
        else:
            self._draft_restored = False
        self.validation = Resolved(error="not validated yet")
        """The latest validation."""

    # -- layout -----------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Title; slot rows beside the LR plot and the YAML / parameter tabs; status and buttons; footer."""
        yield Static(
            Text.assemble(("Compose a run", "bold"), ("  from ", "dim"), short_path(self.base_path)),
            id="composer-title",
        )
        with Horizontal(id="composer-body"):
            with VerticalScroll(id="composer-slots"):
                yield from self._rows()
            with Vertical(id="composer-side"):
                yield Static(id="composer-lr-title")
                yield LRPlot(id="composer-lr")
                with TabbedContent(id="composer-tabs"):
                    with TabPane("Resolved YAML", id="tab-yaml"), VerticalScroll(id="composer-yaml-scroll"):
                        yield Static(id="composer-yaml")
                    with TabPane("Parameters", id="tab-params"):
                        yield ParamTable(id="composer-params")
        with Horizontal(id="composer-bar"):
            yield LaunchStatus(id="composer-status")
            yield Button("Save preset", id="composer-save", compact=True)
            yield Button("Launch", id="composer-launch", variant="primary", compact=True)
        yield KeyBar()

    def _rows(self) -> list[SlotRow]:
        """One row per slot, prefilled from the base config."""
        rows = [
            SlotRow(
                "run", None, "train", extra_fields=self._extras("run"), help=help_for("train"), id="row-run"
            )
        ]
        for label, slot, path in SLOTS:
            section = split_section(slot, path, get_path(self.base_raw, path))
            if label == "loss":
                rows.append(LossRow(section, id="row-loss"))
            else:
                rows.append(
                    SlotRow(
                        label, slot, path, section, self._extras(label), help_for(path), id=f"row-{label}"
                    )
                )
        return rows

    def _extras(self, label: str) -> dict[str, str]:
        """Texts of a row's extra fields from the base config."""
        texts = {}
        for path in EXTRA_FIELDS.get(label, ()):
            value = get_path(self.base_raw, path, EXTRA_DEFAULTS.get(path, ""))
            texts[path] = str(value) if path == "name" else format_value(value)
        return texts

    def on_mount(self) -> None:
        """Validate the base config at once (or say why it could not be read)."""
        if self._pristine is None:
            self._pristine = self.compose_config()
        self.revalidate()
        if self._base_problem:
            self.status.show(Resolved(error=self._base_problem))
        if self._draft_restored:
            self.notify("esc then d discards it", title="Draft restored", markup=False)

    def on_resize(self, event: events.Resize) -> None:
        """Below NARROW_WIDTH columns the rows show one field per line."""
        self.set_class(event.size.width < NARROW_WIDTH, "-narrow")

    @property
    def status(self) -> LaunchStatus:
        """The status line, which also launches."""
        return self.query_one(LaunchStatus)

    # -- validation -----------------------------------------------------------------------------------

    def compose_config(self) -> dict[str, Any]:
        """The run config the rows describe: the base config with every row's section written over it."""
        raw = copy.deepcopy(self.base_raw)
        for row in self.query(SlotRow):
            row.contribute(raw)
        return raw

    def on_slot_row_changed(self, message: SlotRow.Changed) -> None:
        """Revalidate once typing pauses."""
        self.status.revalidate_soon(self.revalidate)

    def revalidate(self) -> Resolved:
        """Resolve the composed config now and show the outcome."""
        self.status.cancel_pending()
        self.validation = resolve(self.compose_config())
        self._show(self.validation)
        return self.validation

    def _show(self, result: Resolved) -> None:
        """Errors next to their row and in the status line; the YAML preview and the LR plot when valid."""
        self._mark_rows(result.key, result.error)
        self.status.show(result)
        if result.cfg is not None:
            self.query_one("#composer-yaml", Static).update(
                Syntax(preview_yaml(result.cfg), "yaml", theme="ansi_dark", background_color="default")
            )
            self._show_lr(result)
        self.query_one("#composer-yaml", Static).set_class(result.cfg is None, "-stale")

    def _row_owning(self, key: str) -> SlotRow | None:
        """The row an error at dotted `key` belongs to (None: no row shows that key)."""
        return next((row for row in self.query(SlotRow) if key and row.owns(key)), None)

    def _mark_rows(self, key: str, error: str) -> None:
        """`key: error` under the row owning `key`; every other row clear."""
        owner = self._row_owning(key)
        for row in self.query(SlotRow):
            row.show_error(key if row is owner else None, error)

    def _go_to_error(self, key: str) -> None:
        """Focus the field the error names, else bring its row into view (it may be below the fold)."""
        owner = self._row_owning(key)
        invalid = [field for field in owner.query(FieldInput) if field.has_class("-invalid")] if owner else []
        if invalid:
            invalid[0].focus()
        elif owner is not None:
            owner.scroll_visible()

    def _show_lr(self, result: Resolved) -> None:
        """The LR plot and its title line."""
        assert result.cfg is not None
        cfg = result.cfg
        self.query_one(LRPlot).show_curve(list(result.lr))
        title = Text.assemble(
            ("LR ", "bold"),
            (f"{cfg['schedule']['name']} × {cfg['optim']['name']} lr ", "dim"),
            format_value(cfg["optim"]["lr"]),
            (f" over {cfg['train']['max_steps']} steps", "dim"),
        )
        self.query_one("#composer-lr-title", Static).update(title)

    # -- parameter table ----------------------------------------------------------------------------------

    def action_params(self) -> None:
        """Count parameters per group and freeze phase with `labconsole check --json` in a subprocess."""
        table = self.query_one(ParamTable)
        self.query_one(TabbedContent).active = "tab-params"
        result = self.revalidate()
        if not result.ok:
            table.show_error(result.problem)
            return
        table.show_loading()
        self._count_params(self.compose_config())

    @work(thread=True, exclusive=True, group="composer-check")
    def _count_params(self, raw: dict[str, Any]) -> None:
        """Run the check off the UI thread and post its result."""
        self.post_message(self.ParamsCounted(check_runner.run_check(raw)))

    def on_composer_screen_params_counted(self, message: ParamsCounted) -> None:
        """Show the tables or the check's error."""
        table = self.query_one(ParamTable)
        model = message.result.data.get("model") if message.result.ok else None
        if model:
            table.show_model(model)
        else:
            table.show_error(message.result.error or "the check returned no model summary")

    # -- save and launch --------------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Save or launch."""
        if event.button.id == "composer-save":
            self.action_save()
        elif event.button.id == "composer-launch":
            self.action_launch()

    def _valid_or_say(self, doing: str) -> bool:
        """Validate now; when invalid, ring and say what to fix first."""
        result = self.revalidate()
        if not result.ok:
            self.status.refuse(result, doing)
            self._go_to_error(result.key)
        return result.ok

    def action_save(self) -> None:
        """Ask for a name, then write the user preset `<user presets>/runs/<name>.yaml`."""
        if not self._valid_or_say("saving"):
            return
        suggestion = str(self.compose_config().get("name") or "")
        self.app.push_screen(save_preset_dialog(suggestion), self._save_as)

    def _save_as(self, name: str | None) -> None:
        """Write the composed config as a user run preset (named after itself); the draft is saved, so forget it."""
        if not name:
            return
        raw = {**self.compose_config(), "name": name}
        try:
            path = save_user_preset("runs", name, raw)
        except UserError as exc:
            self.notify(str(exc), title="Preset not saved", severity="error", markup=False)
            return
        self._saved_preset = (name, raw)
        self._pristine = self.compose_config()
        clear_draft(self.draft_key)
        self.notify(f"saved {short_path(path)}", title="Preset saved", markup=False)

    def action_launch(self) -> None:
        """Launch the composed config when it is valid; the monitor opens on success."""
        if self.status.launching or not self._valid_or_say("launching"):
            return
        raw = self.compose_config()
        name = str(raw.get("name") or "") or None
        argv = composed_argv(raw)
        if self._saved_preset is not None:
            preset, saved = self._saved_preset
            if {**raw, "name": preset} == saved:  # saved unchanged, launched under the rows' name
                argv = ("labconsole", "run", preset, *([f"name={name}"] if name and name != preset else []))
        self.status.launch(LaunchRequest(raw, (), name, argv), self.runs_dir)

    def on_launch_status_launched(self, message: LaunchStatus.Launched) -> None:
        """Close with the new run folder (the app opens its monitor); the draft became a run."""
        clear_draft(self.draft_key)
        self.dismiss(message.run_dir)

    def on_launch_status_failed(self, message: LaunchStatus.Failed) -> None:
        """The status line says why; the row owning the key the engine named shows it too."""
        self._mark_rows(message.failure.key, message.failure.error)

    @property
    def has_changes(self) -> bool:
        """Whether the rows differ from the config the screen opened on (edits not launched nor saved)."""
        return self.compose_config() != self._pristine

    def action_close(self) -> None:
        """Back without launching; with unsaved changes, ask first (keep editing, keep the draft, discard)."""
        if not self.has_changes:
            clear_draft(self.draft_key)
            self.dismiss(None)
            return
        self.app.push_screen(ConfirmDiscard("this run"), self._leave)

    def _leave(self, answer: LeaveAnswer | None) -> None:
        """Act on the leave dialog's answer."""
        if answer == "keep-draft":
            assert self._pristine is not None
            store_draft(self.draft_key, {"config": self.compose_config(), "pristine": self._pristine})
            self.dismiss(None)
        elif answer == "discard":
            clear_draft(self.draft_key)
            self.dismiss(None)


def save_preset_dialog(suggestion: str) -> SavePresetScreen:
    """The save-as-preset dialog of both launch surfaces: user run presets, never a shipped preset's name."""
    return SavePresetScreen(
        suggestion,
        lambda name: user_preset_path("runs", name).exists(),
        short_path(user_presets_dir() / "runs"),
        shipped=lambda name: is_shipped_preset("runs", name),
    )
