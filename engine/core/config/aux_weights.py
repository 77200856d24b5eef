"""`loss.aux_weights`: the weight of each auxiliary loss a model reports (engine.models.aux_outputs).

A mapping `{load_balance: 0.01, ...}` in the `loss` section; an auxiliary loss it does not name weighs 1.0.
"""

from __future__ import annotations

import re
from typing import Any

from engine.core.config.validate import coerce
from engine.core.errors import ConfigError, shown

AUX_WEIGHTS_KEY = "aux_weights"
DEFAULT_AUX_WEIGHT = 1.0
"""The weight of an auxiliary loss `loss.aux_weights` does not name."""
_AUX_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def resolve_aux_weights(key: str, value: Any) -> dict[str, float]:
    """`{name: weight}` with identifier names and finite weights ≥ 0; ConfigError naming the key otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected a mapping of auxiliary loss name to weight, got {shown(value)}")
    out = {}
    for name, weight in value.items():
        where = f"{key}.{name}"
        if not isinstance(name, str) or not _AUX_NAME.fullmatch(name):
            raise ConfigError(where, "an auxiliary loss name is letters, digits and '_'")
        weight = coerce(where, weight, DEFAULT_AUX_WEIGHT)
        if weight < 0:
            raise ConfigError(where, f"must be ≥ 0, got {weight}")
        out[name] = float(weight)
    return out
