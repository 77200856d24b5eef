"""Value checks for config fields: types, choices, ranges, sizes; each failure names the dotted key."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from engine.core.errors import ConfigError, did_you_mean

#: Preset keys whose value may be either of several types (the preset's default shows only one).
UNION_KEYS: dict[str, tuple[type, ...]] = {"pretrained": (bool, str), "stage": (str, int)}

_TYPE_NAMES = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}


def _kind_of(default: Any) -> type | None:
    for kind in (bool, int, float, str, list, dict):
        if isinstance(default, kind):
            return kind
    return None


def coerce(key: str, value: Any, default: Any) -> Any:
    """Check `value` against the type of `default` (ints are accepted for floats); return it, coerced."""
    leaf = key.rsplit(".", 1)[-1]
    if leaf in UNION_KEYS and isinstance(value, UNION_KEYS[leaf]):
        return value
    kind = _kind_of(default)
    if kind is None or (value is None and default is None):
        return value
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(key, f"expected {_TYPE_NAMES[kind]}, got {value!r}")
    return value


def check_keys(key: str, given: dict[str, Any], allowed: list[str]) -> None:
    """Unknown keys are errors, with the closest allowed key suggested."""
    for name in given:
        if name not in allowed:
            where = f"{key}.{name}" if key else name
            raise ConfigError(
                where, f"unknown key{did_you_mean(str(name), allowed)}; allowed: {', '.join(allowed)}"
            )


def check_size(key: str, value: Any) -> list[int]:
    """An image size: an int (square) or [H, W] of positive ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ConfigError(key, f"expected an image size [height, width] of positive integers, got {value!r}")
    return list(value)


def check_range_pair(key: str, value: Any) -> list[float]:
    """A [low, high] pair of positive numbers with low <= high."""
    numbers = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if not numbers or not 0 < value[0] <= value[1]:
        raise ConfigError(key, f"expected [low, high] with 0 < low <= high, got {value!r}")
    return [float(value[0]), float(value[1])]


def check_typed(key: str, schema: type, values: dict[str, Any]) -> dict[str, Any]:
    """Validate a typed section against its dataclass schema (types, choices, ranges)."""
    out = dict(values)
    for f in fields(schema):
        where = f"{key}.{f.name}"
        meta = f.metadata
        value = out[f.name]
        kind = meta.get("kind", "")
        if kind == "size":
            out[f.name] = None if value is None else check_size(where, value)
            continue
        if kind == "int_list":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
            ):
                raise ConfigError(where, f"expected a list of positive integers, got {value!r}")
            continue
        if kind == "str_list":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ConfigError(where, f"expected a list of names, got {value!r}")
            continue
        if kind == "float_pair":
            out[f.name] = check_range_pair(where, value)
            continue
        if kind == "test_sets":
            continue
        if isinstance(value, bool) and {"on", "off"} & set(meta.get("choices") or ()):
            value = "on" if value else "off"  # YAML 1.1 reads a bare on/off as a boolean
        value = coerce(where, value, f.default)
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(
                where, f"'{value}' is not allowed; allowed: {', '.join(map(str, meta['choices']))}"
            )
        if meta.get("min") is not None and value < meta["min"]:
            raise ConfigError(where, f"must be ≥ {meta['min']}, got {value}")
        if meta.get("max") is not None and value > meta["max"]:
            raise ConfigError(where, f"must be ≤ {meta['max']}, got {value}")
        out[f.name] = value
    return out
