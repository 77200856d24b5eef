"""The presets folder: `presets/<slot>/<name>.yaml` files, listed and loaded without importing torch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from engine.core.errors import ConfigError, UserError, unknown_choice

PRESETS_DIR = Path(os.environ.get("LABCONSOLE_PRESETS", Path(__file__).resolve().parents[3] / "presets"))

#: Keys a preset file may carry that are documentation, not parameters.
PRESET_META_KEYS = ("description",)


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
    """Whether `presets/<slot>/<name>.yaml` exists."""
    return isinstance(name, str) and preset_path(slot, name).is_file()


def load_yaml_file(path: Path, what: str = "config") -> Any:
    """Parse a YAML file with safe_load; a missing or malformed file is a one-line UserError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{what} file not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read {what} file {path}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def load_preset(slot: str, name: str, key: str) -> dict[str, Any]:
    """Load a preset mapping; unknown names raise a ConfigError at `key` listing the available presets."""
    if not isinstance(name, str) or not has_preset(slot, name):
        raise ConfigError(key, unknown_choice(f"{slot} preset", str(name), list_presets(slot)))
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
