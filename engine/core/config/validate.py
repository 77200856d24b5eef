"""Value checks for config fields: types, choices, ranges, sizes; each failure names the dotted key."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import fields
from typing import Any

from engine.core.errors import ConfigError, did_you_mean, shown

#: Integers must fit in 64 bits: torch, numpy and the run files hold no more, so a larger one is a typo.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Deepest nesting of lists and mappings in a config; real ones nest 3 or 4 levels.
MAX_DEPTH = 32
#: Most values (scalars, lists, mappings) in one config tree. Real configs hold a few hundred; YAML aliases
#: can make a document of a few lines expand to billions ("billion laughs"), which this refuses.
MAX_VALUES = 100_000
#: Largest image side: 65,536 pixels is beyond any camera; a larger size is a typo that would exhaust memory.
MAX_IMAGE_SIDE = 65_536

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
    """Check `value` against the type of `default` (ints are accepted for floats); return it, coerced.

    Numbers must be finite, and integers fit in 64 bits (a float in place of an int: within a float's range).

    Raises:
        ConfigError: naming `key`, for a value of the wrong type, NaN or ±inf, or an integer too large.
    """
    kind = _kind_of(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = _int_as_float(key, value)
    elif not _type_fits(key.rsplit(".", 1)[-1], kind, value, default):
        raise ConfigError(key, f"expected {_TYPE_NAMES[kind]}, got {shown(value)}")  # type: ignore[index]
    check_scalar(key, value)
    return value


def _type_fits(leaf: str, kind: type | None, value: Any, default: Any) -> bool:
    """Whether `value` has the type of the default (bools are not numbers); any type when there is none."""
    if leaf in UNION_KEYS and isinstance(value, UNION_KEYS[leaf]):
        return True
    if kind is None or (value is None and default is None):
        return True
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _int_as_float(key: str, value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ConfigError(key, f"expected a number, got {shown(value)}, too large for a float") from None


def check_scalar(key: str, value: Any) -> None:
    """A number must be finite, an integer within 64 bits; anything else passes (lists and mappings included)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(key, f"expected a finite number, got {value}")
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise ConfigError(key, f"number too large (integers must fit in 64 bits, ±2^63), got {shown(value)}")


_PLAIN_SCALARS = (str, int, float, bool, type(None))


def check_tree(value: Any, key: str = "") -> None:
    """Check a whole config tree (or one override's value): plain YAML data only (mappings, lists, strings,
    numbers, booleans, null; not dates, sets or binary), numbers as `check_scalar` wants them, at most
    MAX_DEPTH levels deep and MAX_VALUES values in all. The walk is iterative and counts every value it
    visits, so neither deep nesting nor alias-shared structures can exhaust the stack or the CPU.

    Raises:
        ConfigError: naming the dotted key (`key` is the tree's own, "" at the top of a config).
    """
    pending: deque[tuple[str, Any, int]] = deque([(key, value, 0)])
    visited = 1
    while pending:
        where, item, depth = pending.popleft()
        if depth > MAX_DEPTH:
            raise ConfigError(where, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            children = [
                (_dotted(where, name), child) for name, child in item.items() if _plain_key(where, name)
            ]
        elif isinstance(item, (list, tuple)):
            children = [(f"{where}[{index}]", child) for index, child in enumerate(item)]
        else:
            children = []
            if not isinstance(item, _PLAIN_SCALARS):
                raise ConfigError(
                    where or "config",
                    f"expected a string, number, true/false, null, list or mapping, got {shown(item)} "
                    f"(quote it to make it a string)",
                )
            check_scalar(where, item)
        visited += len(children)
        if visited > MAX_VALUES:
            raise ConfigError(
                key or "config",
                f"more than {MAX_VALUES:,} values (YAML aliases expanding?); a config holds a few hundred",
            )
        pending.extend((child_key, child, depth + 1) for child_key, child in children)


def _plain_key(where: str, name: Any) -> bool:
    """A mapping key must be a string or number: the run files are JSON and YAML, whose keys are such."""
    if not isinstance(name, _PLAIN_SCALARS):
        raise ConfigError(where or "config", f"a key must be a string or a number, got {shown(name)}")
    check_scalar(_dotted(where, name), name)
    return True


def _dotted(where: str, name: Any) -> str:
    text = key_text(name)
    return f"{where}.{text}" if where else text


def key_text(name: Any) -> str:
    """A mapping key as it appears in a dotted key: a plain string as is; '' and other values as their repr."""
    return name if isinstance(name, str) and name else shown(name)


def check_keys(key: str, given: dict[str, Any], allowed: list[str]) -> None:
    """Unknown keys are errors, with the closest allowed key suggested."""
    for name in given:
        if name not in allowed:
            text = key_text(name)
            raise ConfigError(
                f"{key}.{text}" if key else text,
                f"unknown key{did_you_mean(text, allowed)}; allowed: {', '.join(allowed)}",
            )


def check_size(key: str, value: Any) -> list[int]:
    """An image size: an int (square) or [H, W] of positive ints, each at most MAX_IMAGE_SIDE."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_IMAGE_SIDE for v in value)
    ):
        raise ConfigError(
            key,
            f"expected an image size [height, width] of positive integers (at most {MAX_IMAGE_SIDE:,}), "
            f"got {shown(value)}",
        )
    return list(value)


def check_range_pair(key: str, value: Any) -> list[float]:
    """A [low, high] pair of positive numbers with low <= high."""
    numbers = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if not numbers or not 0 < value[0] <= value[1]:
        raise ConfigError(key, f"expected [low, high] with 0 < low <= high, got {shown(value)}")
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
            # null means "derive it" only where the default is null (eval.image_size), not for model.image_size
            out[f.name] = None if value is None and f.default is None else check_size(where, value)
            continue
        if kind == "int_list":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
            ):
                raise ConfigError(where, f"expected a list of positive integers, got {shown(value)}")
            continue
        if kind == "str_list":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ConfigError(where, f"expected a list of names, got {shown(value)}")
            continue
        if kind == "float_pair":
            out[f.name] = check_range_pair(where, value)
            continue
        if kind == "test_sets":  # each entry is checked once data.root is known (derive._test_set)
            if not isinstance(value, list):
                raise ConfigError(
                    where,
                    f"expected a list of {f.name.replace('_', ' ')} [{{name, path}}, ...], got {shown(value)}",
                )
            continue
        if isinstance(value, bool) and {"on", "off"} & set(meta.get("choices") or ()):
            value = "on" if value else "off"  # YAML 1.1 reads a bare on/off as a boolean
        value = coerce(where, value, f.default)
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(
                where, f"{shown(value)} is not allowed; allowed: {', '.join(map(str, meta['choices']))}"
            )
        if meta.get("min") is not None and value < meta["min"]:
            raise ConfigError(where, f"must be ≥ {meta['min']}, got {value}")
        if meta.get("max") is not None and value > meta["max"]:
            raise ConfigError(where, f"must be ≤ {meta['max']}, got {value}")
        out[f.name] = value
    return out
