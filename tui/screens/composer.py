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
from textual.timer import Timer
from textual.widget import Widget
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
from engine.core.config.schema import EvalConfig, ModelConfig, TrainConfig, defaults_of
from engine.core.config.warnings import config_warnings, feature_map_size
from engine.core.errors import ConfigError, UserError
from engine.core.freeze import build_freeze
from engine.core.gpus import visible_gpu_count
from tui.data import check_runner
from tui.data.composer_config import format_value, get_path, load_base, preview_yaml, split_section
from tui.data.drafts import clear_draft, draft_key, load_draft, store_draft
from tui.data.launching import LaunchRequest, Resolved, composed_argv, fresh_run_name, resolve, run_names
from tui.screens.confirm_discard import ConfirmDiscard, LeaveAnswer
from tui.screens.save_preset import SavePresetScreen
from tui.widgets.composer_freeze import FreezeRow
from tui.widgets.composer_loss import LossRow
from tui.widgets.composer_lr import LRPlot
from tui.widgets.composer_overrides import OverridesRow
from tui.widgets.composer_params import ParamTable
from tui.widgets.composer_rail import SectionRail
from tui.widgets.composer_slot import WORD_LIST_PATHS, FieldInput, SlotRow
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
"""(row label, preset slot, section path) of the preset rows, top to bottom."""

SECTION_KEYS: dict[str, str] = {
    "run": "r",
    "train": "t",
    "task": "k",
    "backbone": "b",
    "aggregator": "a",
    "head": "h",
    "loss": "l",
    "optim": "o",
    "schedule": "s",
    "freeze": "f",
    "augment": "u",
    "device": "d",
    "eval": "e",
    "overrides": "v",
}
"""Row label -> the key that jumps to it (outside text fields), in the rail's order."""

EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "run": ("name", "description", "tags"),
    "train": ("train.max_steps", "train.batch_size", "train.eval_every", "train.seed"),
    "backbone": ("model.image_size",),
    "head": ("model.descriptor_dim",),
    "eval": tuple(f"eval.{k}" for k in ("val_sets", "test_sets") if k in defaults_of(EvalConfig)),
}
"""Fields outside a slot's section, shown on a row: dotted paths."""

VPR_BATCH = ("train.places_per_batch", "train.images_per_place")
"""What sets a VPR batch (its batch_size is their product): shown instead of train.batch_size."""

EXTRA_DEFAULTS: dict[str, Any] = {
    "name": "",
    "description": "",
    "tags": [],
    **{f"train.{k}": v for k, v in defaults_of(TrainConfig).items()},
    **{f"model.{k}": v for k, v in defaults_of(ModelConfig).items()},
    **{f"eval.{k}": v for k, v in defaults_of(EvalConfig).items()},
}
"""What those fields show when the base config leaves them out."""

EXTRA_HELP: dict[str, str] = {
    "name": "Run name (the run folder is named after it)",
    "description": "One line saying what the run tries",
    "tags": "Comma-separated words to find and group runs by",
    **{f"train.{k}": v for k, v in field_help(TrainConfig).items()},
    **{f"model.{k}": v for k, v in field_help(ModelConfig).items()},
    **{f"eval.{k}": v for k, v in field_help(EvalConfig).items()},
}
"""Tooltips of the extra fields, by dotted path."""

TALL_HEIGHT = 32
"""Terminal height from which every config warning gets its own line (below, one line sums them up)."""
WARNING_ROWS = 3
"""Lines the warnings box holds (composer.tcss max-height)."""

PARAMS_DEBOUNCE = 1.0
"""Seconds of quiet after an edit before the parameter table recounts (a count builds the model)."""


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
    """Per-field help of a typed section (tooltips) by key, and of the extra fields by dotted path."""
    helps = field_help(TYPED_SECTIONS[path]) if path in TYPED_SECTIONS else {}
    return {**helps, **EXTRA_HELP}


def checked_freeze(result: Resolved) -> Resolved:
    """`result`, or the error of its freeze schedule: the config resolves without building the schedule (the
    engine builds it at start), so a bad phase (a negative step, two phases at one step) is caught here."""
    if result.cfg is None:
        return result
    cfg = result.cfg
    try:
        build_freeze(cfg["freeze"]).phases(int(cfg["train"]["max_steps"]), 1000.0)
    except ConfigError as exc:
        return Resolved(key=exc.key, error=exc.message)
    return result


class ComposerScreen(Screen[Path | None]):
    """Dismisses with the launched run's folder (the app opens its monitor), or None."""

    CSS_PATH = "composer.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "launch", "Launch", priority=True),
        Binding("ctrl+s", "save", SAVE_PRESET_LABEL, priority=True),
        Binding("ctrl+down", "next_section(1)", "Next section", key_display="^↓", priority=True),
        Binding("ctrl+up", "next_section(-1)", "Previous section", show=False, priority=True),
        Binding("ctrl+n", "next_section(1)", "Next section", show=False, priority=True),
        Binding("p", "params", "Params"),
        Binding("ctrl+r", "params", "Params", show=False, priority=True),
        Binding("escape", "close", "Back"),
        *[Binding(key, f"jump('{key}')", label, show=False) for label, key in SECTION_KEYS.items()],
    ]

    class ParamsCounted(Message):
        """`labconsole check --json` finished."""

        def __init__(self, result: check_runner.CheckResult, cfg: dict[str, Any] | None = None) -> None:
            super().__init__()
            self.result = result
            self.cfg = cfg
            """The resolved config counted."""

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
        self.run_task = self._base_task()
        """The task the rows offer presets for."""
        self._counted: dict[str, Any] | None = None
        """The resolved config of the parameter table's counts (None: never counted)."""
        self._counting: dict[str, Any] | None = None
        """The resolved config of the count under way."""
        self._model: dict[str, Any] = {}
        """The last model summary (steps per epoch, stride) the warnings read."""
        self._params_live = False
        """Whether the table recounts by itself after a change (once it was asked for or shown)."""
        self._recount: Timer | None = None
        self._gpus: int | None = None

    def _base_task(self) -> str | None:
        """The base config's task name (None when unreadable)."""
        task = self.base_raw.get("task")
        name = task.get("preset") or task.get("name") if isinstance(task, dict) else task
        return name if isinstance(name, str) else None

    # -- layout -----------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Title; slot rows beside the LR plot and the YAML / parameter tabs; status and buttons; footer."""
        yield Static(
            Text.assemble(("Compose a run", "bold"), ("  from ", "dim"), short_path(self.base_path)),
            id="composer-title",
        )
        yield SectionRail(list(SECTION_KEYS.items()), id="composer-rail")
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
        yield Static(id="composer-warnings")
        with Horizontal(id="composer-bar"):
            yield LaunchStatus(id="composer-status")
            yield Button("Save preset", id="composer-save", compact=True)
            yield Button("Launch", id="composer-launch", variant="primary", compact=True)
        yield KeyBar()

    def _rows(self) -> list[SlotRow]:
        """One row per section, prefilled from the base config, in the rail's order."""
        rows = [self._plain_row("run"), self._plain_row("train")]
        for label, slot, path in SLOTS:
            section = split_section(slot, path, get_path(self.base_raw, path))
            row_id = f"row-{label}"
            if label == "loss":
                rows.append(LossRow(section, id=row_id, task=self.run_task))
            elif label == "freeze":
                rows.append(FreezeRow(section, help_for(path), id=row_id))
            else:
                extras, helps = self._extras(label), help_for(path)
                rows.append(SlotRow(label, slot, path, section, extras, helps, id=row_id, task=self.run_task))
        rows += [self._plain_row("eval"), OverridesRow(id="row-overrides")]
        return rows

    def _plain_row(self, label: str) -> SlotRow:
        """A row of fields without a preset (run, train, eval)."""
        return SlotRow(
            label, None, label, extra_fields=self._extras(label), help=help_for(label), id=f"row-{label}"
        )

    def _extras(self, label: str) -> dict[str, str]:
        """Texts of a row's extra fields from the base config."""
        paths = EXTRA_FIELDS.get(label, ())
        if label == "train" and self.run_task == "vpr":  # a VPR batch is places × images
            paths = tuple(p for p in paths if p != "train.batch_size")
            paths = (paths[0], *VPR_BATCH, *paths[1:])
        texts = {}
        for path in paths:
            value = get_path(self.base_raw, path, EXTRA_DEFAULTS.get(path, ""))
            if path in ("name", "description"):
                texts[path] = str(value or "")
            elif path in WORD_LIST_PATHS:
                texts[path] = (
                    ", ".join(str(v) for v in value) if isinstance(value, list) else str(value or "")
                )
            else:
                texts[path] = format_value(value)
        return texts

    def on_mount(self) -> None:
        """Validate the base config at once (or say why it could not be read)."""
        self._gpus = visible_gpu_count()
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
        self._show_warnings(self.validation)

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
        """Revalidate once typing pauses; a new task offers its own presets."""
        if message.row.label == "task" and message.row.section.preset != self.run_task:
            self.run_task = message.row.section.preset
            for row in self.query(SlotRow):
                row.set_task(self.run_task)
        self.status.revalidate_soon(self.revalidate)

    # -- sections -------------------------------------------------------------------------------------

    def _row_of(self, widget: Widget | None) -> SlotRow | None:
        """The row holding `widget` (None outside the rows)."""
        while widget is not None and not isinstance(widget, SlotRow):
            widget = widget.parent if isinstance(widget.parent, Widget) else None
        return widget

    def action_jump(self, key: str) -> None:
        """Focus the section whose key is `key` (its preset picker, else its first field), scrolled to the top."""
        label = next((name for name, k in SECTION_KEYS.items() if k == key), None)
        row = self.query_one(f"#row-{label}", SlotRow) if label else None
        if row is None:
            return
        slots = self.query_one("#composer-slots", VerticalScroll)
        self.call_after_refresh(slots.scroll_to_widget, row, animate=False, top=True)
        target = row.focus_target()
        if target is not None:
            target.focus(scroll_visible=False)

    def action_next_section(self, step: int) -> None:
        """The next (step 1) or previous (step -1) section, from the one holding the focus."""
        rows = list(self.query(SlotRow))
        current = self._row_of(self.focused)
        index = rows.index(current) + step if current in rows else 0
        self.action_jump(SECTION_KEYS[rows[index % len(rows)].label])

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The rail highlights the section holding the focus."""
        row = self._row_of(event.widget)
        self.query_one(SectionRail).current = row.label if row is not None else ""

    def validate(self, raw: dict[str, Any]) -> Resolved:
        """The validation of a composed config (`compose_config()`, which notes a bad override line)."""
        overrides = self.query_one(OverridesRow)
        if overrides.problem:
            return Resolved(key="overrides", error=overrides.problem)
        return checked_freeze(resolve(raw))

    def revalidate(self) -> Resolved:
        """Resolve the composed config now and show the outcome."""
        self.status.cancel_pending()
        self.validation = self.validate(self.compose_config())
        self._show(self.validation)
        self._params_follow(self.validation)
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
        self._show_warnings(result)

    def _show_warnings(self, result: Resolved) -> None:
        """The config warnings above the status line (none while the config is invalid)."""
        lines = config_warnings(result.cfg, self._model_for(result.cfg), self._gpus) if result.cfg else []
        box = self.query_one("#composer-warnings", Static)
        if (
            len(lines) > 1 and self.size.height < TALL_HEIGHT
        ):  # one line: the count, the first, the rest on hover
            box.update(Text(f"⚠ {len(lines)} warnings · {lines[0]}"))
        elif len(lines) > WARNING_ROWS:  # the box holds WARNING_ROWS lines: the last says how many more
            shown = [f"⚠ {line}" for line in lines[: WARNING_ROWS - 1]]
            box.update(
                Text("\n".join([*shown, f"⚠ {len(lines) - len(shown)} more (hover to read them all)"]))
            )
        else:
            box.update(Text("\n".join(f"⚠ {line}" for line in lines)))
        box.display = bool(lines)
        box.tooltip = "\n".join(lines) or None

    def _model_for(self, cfg: dict[str, Any]) -> dict[str, Any] | None:
        """The last count's summary as it applies to `cfg`: its feature map recomputed for cfg's image size,
        dropped when the backbone changed since (its stride may differ)."""
        if not self._model or self._counted is None:
            return None
        model = {k: v for k, v in self._model.items() if k != "feature_map"}
        stride = model.get("backbone_stride")
        if self._counted["model"]["backbone"] == cfg["model"]["backbone"] and isinstance(stride, int):
            model["feature_map"] = feature_map_size(cfg["model"]["image_size"], stride)
        return model

    def _row_owning(self, key: str) -> SlotRow | None:
        """The row an error at dotted `key` belongs to (None: no row shows that key); an override line wins,
        since it is what set the key."""
        overrides = self.query_one(OverridesRow)
        if key == "overrides" or (key and overrides.owns(key)):
            return overrides
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
        """Show the parameter table and count now; from then on it recounts by itself after each change."""
        self._params_live = True
        self.query_one(TabbedContent).active = "tab-params"
        result = self.revalidate()
        if not result.ok:
            self.query_one(ParamTable).show_error(result.problem)
            return
        self._start_count(result)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Showing the parameters counts them when they are stale (or never counted), and keeps them fresh."""
        if event.pane.id == "tab-params" and not self._params_live:
            self._params_live = True
            self._params_follow(self.validation)

    def _params_follow(self, result: Resolved) -> None:
        """After a validation: a changed config makes the counts stale; a live table recounts once edits pause."""
        if result.cfg is None or result.cfg in (self._counted, self._counting):
            return
        table = self.query_one(ParamTable)
        if self._counted is not None:
            table.mark_stale(counting=self._params_live)
        if not self._params_live:
            return
        if self._recount is not None:
            self._recount.stop()
        self._recount = self.set_timer(PARAMS_DEBOUNCE, self._count_if_still_valid)

    def _count_if_still_valid(self) -> None:
        self._recount = None
        if self.validation.cfg is not None and self.validation.cfg not in (self._counted, self._counting):
            self._start_count(self.validation)

    def _start_count(self, result: Resolved) -> None:
        """Count in a subprocess; a count still under way is stopped (its config is out of date)."""
        if self._recount is not None:
            self._recount.stop()
            self._recount = None
        check_runner.cancel_checks()
        self._counting = result.cfg
        self.query_one(ParamTable).show_loading()
        self._count_params(self.compose_config(), result.cfg)

    @work(thread=True, exclusive=True, group="composer-check")
    def _count_params(self, raw: dict[str, Any], cfg: dict[str, Any] | None) -> None:
        """Run the check off the UI thread and post its result."""
        self.post_message(self.ParamsCounted(check_runner.run_check(raw), cfg))

    def on_composer_screen_params_counted(self, message: ParamsCounted) -> None:
        """Show the tables or the check's error (a cancelled count is followed by a newer one)."""
        if message.result.error == check_runner.CANCELLED or message.cfg != self._counting:
            return
        self._counting = None
        self._counted = message.cfg
        table = self.query_one(ParamTable)
        model = message.result.data.get("model") if message.result.ok else None
        if model:
            self._model = model
            table.show_model(model)
        else:
            table.show_error(message.result.error or "the check returned no model summary")
        self._show_warnings(self.validation)
        if self.validation.cfg is not None and self.validation.cfg != self._counted:
            self._params_follow(self.validation)  # edited while counting

    def on_unmount(self) -> None:
        """A count under way is of no use any more."""
        if self._counting is not None:
            check_runner.cancel_checks()

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
