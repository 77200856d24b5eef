"""Dotted `key=value` command-line overrides applied to a raw (unresolved) config tree."""

from __future__ import annotations

import re
from typing import Any

import yaml

from engine.core.errors import UserError

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def parse_value(text: str) -> Any:
    """YAML-parse an override value; `1e-4` is a float (YAML 1.1 alone would keep it a string)."""
    if _NUMBER.match(text.strip()):
        number = float(text)
        return int(number) if re.match(r"^[+-]?\d+$", text.strip()) else number
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split 'a.b.c=value' into (['a', 'b', 'c'], parsed value)."""
    key, sep, value = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", p) for p in parts):
        raise UserError(f"bad override '{item}': expected dotted.key=value, e.g. optim.lr=1e-4")
    return parts, parse_value(value)


def apply_overrides(
    raw: dict[str, Any], items: list[str] | tuple[str, ...], is_preset_section
) -> dict[str, Any]:
    """Apply overrides in order; naming a new `name`/`preset` for a preset section restarts that section."""
    for item in items:
        parts, value = parse_override(item)
        node = raw
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if isinstance(child, str) and is_preset_section(parts[: depth + 1]):
                child = {"preset": child}
            if child is None:
                child = {}
            if not isinstance(child, dict):
                raise UserError(f"bad override '{item}': '{'.'.join(parts[: depth + 1])}' is not a section")
            node[part] = child
            node = child
        last = parts[-1]
        if last in ("name", "preset") and is_preset_section(parts[:-1]):
            node.clear()
        node[last] = value
    return raw
