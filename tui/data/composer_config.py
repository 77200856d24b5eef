"""Composer model: field text <-> YAML values, dotted paths in a raw config, slot sections from presets."""

from __future__ import annotations

import contextlib
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.core.config import PRESET_SECTIONS, TYPED_SECTIONS, list_presets, load_preset
from engine.core.config.presets import PRESET_META_KEYS
from engine.core.config.schema import defaults_of
from engine.core.errors import UserError
from engine.core.schedules import lr_curve

NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
"""A number as people type it (`1e-4` included, which YAML 1.1 would read as a string)."""

META_KEYS = ("preset", *PRESET_META_KEYS)
"""Section keys that are bookkeeping, never editable fields."""

HIDDEN_FIELDS = ("name",)
"""Preset keys not offered as fields: the preset choice already sets them."""


def parse_value(text: str, like: Any = None) -> Any:
    """A field's text as a config value: numbers as numbers, the rest as a YAML flow scalar or list.

    `like` is the field's default: where it is a string, a bare `off` / `yes` stays a string
    (YAML 1.1 would read a boolean).
    """
    text = text.strip()
    if NUMBER.fullmatch(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(like, str) and isinstance(value, bool) else value


def format_value(value: Any, like: Any = None) -> str:
    """A config value as one line of YAML flow text (the inverse of `parse_value` with the same `like`)."""
    if isinstance(value, float) and value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:g}"
    if isinstance(like, str) and isinstance(value, str) and parse_value(value, like) == value:
        return value
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, allow_unicode=True).strip()
    return text.removesuffix("...").strip()


def get_path(raw: dict[str, Any], dotted: str, default: Any = None) -> Any:
    """The value at `a.b.c` in a nested mapping, or `default`."""
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def set_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c` in a nested mapping; a preset-name string on the way becomes `{preset: name}`."""
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        child = node.get(part)
        if isinstance(child, str):
            child = {"preset": child}
        elif not isinstance(child, dict):
            child = {}
        node[part] = child
        node = child
    node[leaf] = value


def key_under(key: str, path: str) -> bool:
    """Whether dotted error `key` is `path` or lies under it (`loss.components[0].weight` is under `loss`)."""
    return key == path or key.startswith(path + ".") or key.startswith(path + "[")


def preset_fields(slot: str, preset: str) -> dict[str, Any]:
    """The preset's editable keys with their default values (empty for an unknown preset)."""
    try:
        data = load_preset(slot, preset, slot)
    except UserError:
        return {}
    return {k: v for k, v in data.items() if k not in META_KEYS and k not in HIDDEN_FIELDS}


def preset_baseline(slot: str, preset: str | None, path: str) -> dict[str, Any]:
    """A section resolved without overrides: schema defaults (typed sections) under the preset file."""
    schema = TYPED_SECTIONS.get(path)
    base = defaults_of(schema) if schema is not None else {}
    if preset:
        with contextlib.suppress(UserError):
            base.update({k: v for k, v in load_preset(slot, preset, slot).items() if k not in META_KEYS})
    return base


@dataclass
class Section:
    """A slot's state: the chosen preset, the text of its fields, keys carried over from the base."""

    preset: str | None
    """Preset name (None when the slot has no presets)."""
    fields: dict[str, str] = field(default_factory=dict)
    """Editable key -> its text (what the Inputs show)."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Keys of the base section that are not fields and differ from the preset (kept as they are)."""


def split_section(slot: str, path: str, value: Any) -> Section:
    """A base config's section (a preset name, `{preset: x, k: v}` or a resolved mapping) as a Section."""
    default = PRESET_SECTIONS.get(path, (slot, None))[1]
    if isinstance(value, str):
        value = {"preset": value}
    value = dict(value) if isinstance(value, dict) else {}
    preset = value.pop("preset", None) or _preset_named(slot, value.get("name")) or default
    if preset not in list_presets(slot):
        preset = next(iter(list_presets(slot)), None)
    keys = preset_fields(slot, preset) if preset else {}
    baseline = preset_baseline(slot, preset, path)
    fields_text = {k: format_value(value.get(k, v), v) for k, v in keys.items()}
    extras = {
        k: v
        for k, v in value.items()
        if k not in keys and k not in META_KEYS and baseline.get(k, object()) != v
    }
    return Section(preset, fields_text, extras)


def _preset_named(slot: str, name: Any) -> str | None:
    """A resolved section without `preset` (typed sections): the preset of the same name, if any."""
    return name if isinstance(name, str) and name in list_presets(slot) else None


def section_value(slot: str, section: Section) -> Any:
    """The config value of a slot: the preset name alone, or `{preset: x, changed keys..., extras...}`."""
    defaults = preset_fields(slot, section.preset) if section.preset else {}
    changed = {}
    for key, text in section.fields.items():
        if not text.strip():
            continue
        value = parse_value(text, defaults.get(key))
        if key not in defaults or value != defaults[key]:
            changed[key] = value
    changed.update(copy.deepcopy(section.extras))
    if not changed:
        return section.preset
    return {"preset": section.preset, **changed} if section.preset else changed


def component_value(item: Section, weight: str) -> dict[str, Any]:
    """One loss-mix component: `{preset: x, weight: w, changed keys...}`."""
    value = section_value("loss", item)
    body = {"preset": value} if isinstance(value, str) else dict(value or {})
    return {**body, "weight": parse_value(weight) if weight.strip() else 1.0}


def lr_points(cfg: dict[str, Any], points: int = 120) -> list[tuple[int, float]]:
    """(step, LR) over `train.max_steps` of a resolved config (raises ConfigError for a bad schedule)."""
    base = float(cfg["optim"]["lr"])
    curve = lr_curve(cfg["schedule"], int(cfg["train"]["max_steps"]), points)
    return [(step, factor * base) for step, factor in curve]


def preview_yaml(cfg: dict[str, Any]) -> str:
    """The resolved config in block style (a narrow pane cannot show dump_config's long flow mappings)."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False, allow_unicode=True, width=60)


def load_base(path: Path) -> tuple[dict[str, Any], str]:
    """The base config as raw YAML (a run preset or a run's config.yaml) and why it failed ('' if not)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return {}, f"cannot read {path}: {getattr(exc, 'strerror', None) or 'not valid YAML'}"
    if not isinstance(raw, dict):
        return {}, f"{path}: a run config must be a YAML mapping"
    return raw, ""
