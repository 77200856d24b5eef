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

#: Keys a preset file may carry that are documentation, not parameters.
PRESET_META_KEYS = ("description",)
#: What a preset name looks like: a file stem in its slot's folder (no path separators, no `..`).
_PRESET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")
#: Largest config or preset file read; real ones are a few kB, so a larger one is the wrong file.
MAX_FILE_BYTES = 1_000_000


def list_presets(slot: str) -> list[str]:
    """Names of the presets available for `slot` (file stems), sorted; `default` is a base, not a choice."""
    folder = PRESETS_DIR / slot
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "default")


def preset_path(slot: str, name: str) -> Path:
    """Path of a preset file (it may not exist)."""
    return PRESETS_DIR / slot / f"{name}.yaml"


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
    receives as keyword parameters. The one place that knows which keys are bookkeeping."""
    return {k: v for k, v in section.items() if k not in ("name", "preset", *PRESET_META_KEYS)}
