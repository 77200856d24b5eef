"""Dotted `key=value` command-line overrides applied to a raw (unresolved) config tree."""

from __future__ import annotations

import re
from typing import Any

import yaml

from engine.core.config.validate import check_tree
from engine.core.errors import ConfigError, UserError, shown

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_KEY_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: After `freeze.`, a group path as `set` takes it: a stage index (-1), a range (layer3+), a pattern (layer3*).
_FREEZE_PATH_PART = re.compile(r"[A-Za-z0-9_*?\[\]+-]+")
#: Longest number literal read: more digits are a typo (and Python refuses to read an int beyond 4,300 digits).
MAX_NUMBER_DIGITS = 400


def parse_value(text: str, key: str = "") -> Any:
    """YAML-parse an override value; `1e-4` is a float (YAML 1.1 alone would keep it a string).

    Integers are read exactly (2**53 + 1 stays itself); text YAML cannot read stays a string.

    Raises:
        ConfigError: naming `key`, for a number literal of more than MAX_NUMBER_DIGITS digits, or a value
            YAML cannot build (nested too deeply, an impossible date).
    """
    stripped = text.strip()
    if _NUMBER.fullmatch(stripped):
        if len(stripped) > MAX_NUMBER_DIGITS:
            raise ConfigError(
                key, f"a number of {len(stripped)} characters is too long, got {shown(stripped)}"
            )
        return int(stripped) if _INTEGER.fullmatch(stripped) else float(stripped)
    if not stripped:
        return ""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    except RecursionError:
        raise ConfigError(key, "nested too deeply") from None
    except (
        ValueError,
        TypeError,
        OverflowError,
    ) as exc:  # yaml builds ints, floats and dates with Python's own
        raise ConfigError(key, f"cannot read {shown(text)}: {exc}") from None


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split 'a.b.c=value' into (['a', 'b', 'c'], parsed value); the value is checked as `check_tree` does."""
    key, sep, value = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not _key_parts_fit(parts):
        raise UserError(f"bad override {shown(item)}: expected dotted.key=value, e.g. optim.lr=1e-4")
    dotted = ".".join(parts)
    parsed = parse_value(value, dotted)
    check_tree(parsed, dotted)
    return parts, parsed


def _key_parts_fit(parts: list[str]) -> bool:
    if parts[0] == "freeze" and len(parts) > 1:
        return all(_FREEZE_PATH_PART.fullmatch(p) for p in parts[1:])
    return all(_KEY_PART.fullmatch(p) for p in parts)


def apply_overrides(
    raw: dict[str, Any], items: list[str] | tuple[str, ...], is_preset_section
) -> dict[str, Any]:
    """Apply overrides in order; naming a new `name`/`preset` for a preset section restarts that section.

    An epoch key and its step key (`train.max_epochs` / `train.max_steps`, see engine.core.schedules.epochs) are
    one setting: an override of either replaces the other one written in the file, and the file, or the
    overrides, giving both is an error naming both.
    """
    from engine.core.schedules.epochs import check_epoch_pair  # engine.core.schedules imports this package

    for section, value in raw.items():
        check_epoch_pair(section, value)
    written: set[str] = set()
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
                raise UserError(
                    f"bad override {shown(item)}: '{'.'.join(parts[: depth + 1])}' is not a section"
                )
            node[part] = child
            node = child
        last = parts[-1]
        if last in ("name", "preset") and is_preset_section(parts[:-1]):
            node.clear()
        node[last] = value
        dotted = ".".join(parts)
        _replace_counterpart(dotted, node, written)
        written.add(dotted)
    return raw


def _replace_counterpart(dotted: str, node: dict[str, Any], written: set[str]) -> None:
    """An override of an epoch key drops its step key from the file (and the other way round); both from
    overrides is an error naming both."""
    from engine.core.schedules.epochs import EPOCH_KEYS, check_epoch_pair

    for key in EPOCH_KEYS:
        pair = {key.epoch_key: key.steps, key.step_key: key.epochs}
        if dotted not in pair:
            continue
        other = f"{key.section}.{pair[dotted]}"
        if other in written:
            check_epoch_pair(key.section, node, " on the command line")
        elif dotted == key.step_key or node.get(key.epochs):  # an epoch key of 0 leaves the steps alone
            node.pop(pair[dotted], None)
