"""The presets folder: `presets/<slot>/<name>.yaml` files, listed and loaded without importing torch."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from engine.core.config.validate import check_tree
from engine.core.errors import ConfigError, UserError, one_line, shown, shown_path, unknown_choice

PRESETS_DIR = Path(os.environ.get("LABCONSOLE_PRESETS", Path(__file__).resolve().parents[3] / "presets"))
"""The shipped presets (`LABCONSOLE_PRESETS` points elsewhere): never written by the console."""

USER_PRESETS_ENV = "LABCONSOLE_USER_PRESETS"
"""Environment variable naming the user presets folder (tests point it at a temporary folder)."""

#: Keys a preset file may carry that are documentation, not parameters (`tasks`: the tasks it fits;
#: `steerable`: the options `set` may change mid-run, e.g. a backbone's `router`).
PRESET_META_KEYS = ("description", "tasks", "steerable")
#: What a preset name looks like: a file stem in its slot's folder (no path separators, no `..`).
_PRESET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")
#: Largest config or preset file read; real ones are a few kB, so a larger one is the wrong file.
MAX_FILE_BYTES = 1_000_000


def user_presets_dir() -> Path:
    """Where saved presets go: `$LABCONSOLE_USER_PRESETS`, else `$XDG_CONFIG_HOME/labconsole/presets`
    (~/.config by default). Read on every call so a changed environment takes effect at once."""
    override = os.environ.get(USER_PRESETS_ENV)
    if override:
        return Path(override)
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "labconsole" / "presets"


def list_presets(slot: str, task: str | None = None) -> list[str]:
    """Names of the presets available for `slot` (file stems of the shipped and the user folder), sorted;
    `default` is a base, not a choice. With `task`, only the presets that fit it (see `preset_fits`)."""
    names: set[str] = set()
    for folder in (PRESETS_DIR / slot, user_presets_dir() / slot):
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml") if p.stem != "default")
    return sorted(n for n in names if task is None or preset_fits(slot, n, task))


def preset_tasks(slot: str, name: str) -> tuple[str, ...]:
    """The tasks a preset declares it fits (its `tasks:` list); empty when it fits every task or is unreadable."""
    try:
        declared = load_preset(slot, name, slot).get("tasks")
    except UserError:
        return ()
    if isinstance(declared, str):
        return (declared,)
    return tuple(str(t) for t in declared) if isinstance(declared, list) else ()


def preset_fits(slot: str, name: str, task: str) -> bool:
    """Whether a preset fits `task`: it declares that task, or declares none (it fits all)."""
    tasks = preset_tasks(slot, name)
    return not tasks or task in tasks


def shipped_preset_path(slot: str, name: str) -> Path:
    """Path of a shipped preset file (it may not exist)."""
    return PRESETS_DIR / slot / f"{name}.yaml"


def user_preset_path(slot: str, name: str) -> Path:
    """Path of a user preset file (it may not exist)."""
    return user_presets_dir() / slot / f"{name}.yaml"


def preset_path(slot: str, name: str) -> Path:
    """Path of a preset file: the shipped one, else the user's when it exists (a shipped preset always wins,
    so a user file can never change what a shipped name means); the shipped path when neither exists."""
    shipped = shipped_preset_path(slot, name)
    if not is_file(shipped):
        user = user_preset_path(slot, name)
        if is_file(user):
            return user
    return shipped


def is_shipped_preset(slot: str, name: str) -> bool:
    """Whether `name` is a preset shipped with labconsole (a user preset may not take its name)."""
    return is_file(shipped_preset_path(slot, name))


def save_user_preset(slot: str, name: str, data: dict[str, Any]) -> Path:
    """Write `data` as the user preset `<slot>/<name>.yaml` and return its path; refuses (UserError) a name
    that is not a file stem or that a shipped preset already has, so a shipped preset is never written over."""
    if not _PRESET_NAME.fullmatch(name):
        raise UserError(f"'{name}' cannot name a preset: use letters, digits, '.', '_', '+' and '-'")
    if is_shipped_preset(slot, name):
        raise UserError(f"'{name}' is a shipped {slot} preset: choose another name")
    path = user_preset_path(slot, name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {shown_path(path)}: {exc.strerror or exc}") from None
    return path


def has_preset(slot: str, name: str) -> bool:
    """Whether `presets/<slot>/<name>.yaml` exists (a name with a path separator never names a preset)."""
    return isinstance(name, str) and bool(_PRESET_NAME.fullmatch(name)) and is_file(preset_path(slot, name))


def is_file(path: Path) -> bool:
    """Path.is_file, False for names the system cannot look up (too long, a NUL byte) instead of an error."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def load_yaml_file(path: Path, what: str = "config") -> Any:
    """Parse a YAML file with safe_load; a missing, unreadable or malformed file is a one-line UserError.

    The result is checked with `check_tree` (plain data, finite numbers, bounded depth and size).
    """
    where = shown_path(path)
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{what} file not found: {where}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise UserError(f"cannot read {what} file {where}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"{where}: {what} file larger than {MAX_FILE_BYTES:,} bytes; is it the right file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(
            f"{where} line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        ) from None
    tree = parse_yaml(text, where)
    try:
        check_tree(tree)
    except ConfigError as exc:
        raise UserError(f"{where}: {exc}") from None
    return tree


def parse_yaml(text: str, source: str) -> Any:
    """yaml.safe_load, every failure a one-line UserError naming `source` (and the line, when YAML knows it)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = one_line(str(getattr(exc, "problem", None) or exc))
        raise UserError(f"{source}{where}: not valid YAML ({problem})") from None
    except RecursionError:
        raise UserError(f"{source}: not valid YAML (nested too deeply)") from None
    except (
        ValueError,
        TypeError,
        OverflowError,
    ) as exc:  # yaml builds ints, floats and dates with Python's own
        # e.g. "Exceeds the limit (4300 digits) for integer string conversion", minus its advice to call sys
        raise UserError(f"{source}: not valid YAML ({one_line(str(exc).split(';')[0])})") from None


def load_preset(slot: str, name: str, key: str) -> dict[str, Any]:
    """Load a preset mapping; unknown names raise a ConfigError at `key` listing the available presets."""
    if not isinstance(name, str) or not has_preset(slot, name):
        word = name if isinstance(name, str) else shown(name)
        raise ConfigError(key, unknown_choice(f"{slot} preset", word, list_presets(slot)))
    data = load_yaml_file(preset_path(slot, name), f"{slot} preset")
    if not isinstance(data, dict):
        raise UserError(f"{preset_path(slot, name)}: a preset must be a YAML mapping")
    return data


def describe_presets(slot: str) -> dict[str, str]:
    """Preset name -> its description line (for catalogues and the composer)."""
    out = {}
    for name in list_presets(slot):
        try:
            out[name] = str(load_preset(slot, name, slot).get("description", ""))
        except UserError:
            out[name] = "(unreadable preset)"
    return out


def preset_params(section: dict[str, Any]) -> dict[str, Any]:
    """A resolved preset section without its bookkeeping keys (name, preset, description): what a factory
    receives as keyword parameters. The one place that knows which keys are bookkeeping (`aux_weights`: the
    loss section's weights of a model's auxiliary losses, read by the task, not the loss)."""
    return {k: v for k, v in section.items() if k not in ("name", "preset", "aux_weights", *PRESET_META_KEYS)}
