"""Sweep axes: `key=a,b,c` on the command line, and the points of a grid or of paired (zip) lists."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from engine.core.config.overrides import parse_override
from engine.core.errors import UserError, shown

MODES = ("grid", "zip")
"""grid: every combination (the first axis changes slowest); zip: the i-th value of every axis together."""

MAX_POINTS = 1000
"""More points than this is a typo (a comma too many in a long list), not a sweep anyone means to queue."""

Axes = dict[str, list[str]]
"""Dotted key → the values it takes, each as written (the text a `key=value` override would carry)."""

Point = dict[str, str]
"""One point of a sweep: dotted key → value as written."""

_OPEN, _CLOSE = "[{(", "]})"


def split_values(text: str) -> list[str]:
    """`a,b,c` → ['a', 'b', 'c'], splitting only on commas outside brackets and quotes:
    `[224,224],[322,322]` → ['[224,224]', '[322,322]']."""
    values: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    values.append("".join(current).strip())
    return values


def parse_axis(item: str) -> tuple[str, list[str]]:
    """`optim.lr=1e-3,3e-3` → ('optim.lr', ['1e-3', '3e-3']); one line naming the mistake otherwise."""
    key, sep, text = item.partition("=")
    values = split_values(text)
    if not sep or not text.strip() or any(v == "" for v in values):
        raise UserError(
            f"bad sweep axis {shown(item)}: expected dotted.key=v1,v2,... with no empty value, "
            "e.g. optim.lr=1e-3,3e-3"
        )
    for value in values:
        parse_override(
            f"{key.strip()}={value}"
        )  # the key's shape and each value's syntax, as `run` reads them
    return key.strip(), values


def parse_assignments(items: Sequence[str]) -> tuple[Axes, list[str]]:
    """Command-line `key=...` items as (axes: keys given more than one value, fixed overrides: the others)."""
    axes: Axes = {}
    fixed: list[str] = []
    for item in items:
        key, values = parse_axis(item)
        if len(values) == 1:
            fixed.append(f"{key}={values[0]}")
        elif key in axes:
            raise UserError(f"sweep axis {key} is given twice: list all its values once ({key}=v1,v2,...)")
        else:
            axes[key] = values
    return axes, fixed


def value_text(value: Any) -> str:
    """A value read from a YAML file as the text of an override (`[224, 224]`, `0.001`, `gem`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return yaml.safe_dump(value).removesuffix("\n...\n").strip()
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()


def points_of(axes: Mapping[str, Sequence[str]], mode: str = "grid") -> list[Point]:
    """The sweep's points: a grid (cartesian product, first axis slowest) or paired lists (zip)."""
    if mode not in MODES:
        raise UserError(f"sweep mode {shown(mode)} is not known: use one of {', '.join(MODES)}")
    if not axes:
        raise UserError("a sweep needs at least one key with several values, e.g. optim.lr=1e-3,3e-3")
    keys = list(axes)
    if mode == "zip":
        lengths = {key: len(values) for key, values in axes.items()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{key} has {n}" for key, n in lengths.items())
            raise UserError(f"--zip pairs the i-th values of every key: the lists must be as long ({listed})")
        combos: list[tuple[str, ...]] = list(zip(*axes.values()))
    else:
        count = 1
        for values in axes.values():
            count *= len(values)
        if count > MAX_POINTS:
            raise UserError(f"the grid has {count:,} points; at most {MAX_POINTS:,} are queued at once")
        combos = list(itertools.product(*axes.values()))
    return [dict(zip(keys, combo)) for combo in combos]


def overrides_of(point: Mapping[str, str]) -> list[str]:
    """A point as `key=value` overrides."""
    return [f"{key}={value}" for key, value in point.items()]


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key by its shortest ending that no other key shares (`optim.lr` → `lr`, while
    `model.backbone.preset` and `model.aggregator.preset` → `backbone.preset`, `aggregator.preset`)."""
    short = {}
    for key in keys:
        parts = key.split(".")
        for length in range(1, len(parts) + 1):
            tail = ".".join(parts[-length:])
            if not any(other != key and (other == tail or other.endswith("." + tail)) for other in keys):
                break
        short[key] = tail
    return short


def point_text(point: Mapping[str, str], keys: Sequence[str] | None = None) -> str:
    """`aggregator=gem lr=3e-3`: a point's values by their short keys."""
    short = short_keys(list(keys or point))
    return " ".join(f"{short.get(key, key)}={value}" for key, value in point.items())
