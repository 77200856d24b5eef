"""A weighted sum of registered losses (any task): per-component logging and weights steerable mid-run."""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from torch import nn

from engine.core.config.presets import preset_params
from engine.core.errors import ConfigError, did_you_mean, unknown_choice
from engine.losses.base import KEY, LOSSES, Loss


class LossMix(Loss):
    """total = sum_i weight_i * loss_i over named component losses.

    Components live in an `nn.ModuleDict`, so their parameters (CosFace / ArcFace class centres) belong
    to this module and reach the optimizer's "loss" group. Weights are plain floats (reading them costs
    no device sync) saved through the module's extra state, so a steered weight survives a resume.

    Attributes:
        parts: Component name -> loss module, in config order.
        last_components: Component name -> detached, unweighted value of the last forward call.
    """

    def __init__(self, parts: dict[str, Loss], weights: dict[str, float]) -> None:
        super().__init__()
        self.parts = nn.ModuleDict(parts)
        self._weights = {key: weights[key] for key in parts}

    @property
    def weights(self) -> dict[str, float]:
        """Component name -> current weight (a copy; change weights with `set_weight`)."""
        return dict(self._weights)

    def set_weight(self, name: str, value: float) -> None:
        """Change one component's weight, e.g. when steered mid-run.

        Raises:
            ConfigError: `name` is not a component, or `value` is not a finite number >= 0.
        """
        if name not in self._weights:
            raise ConfigError(f"{KEY}.weight.{name}", unknown_choice("loss component", name, self._weights))
        index = list(self._weights).index(name)
        self._weights[name] = check_weight(f"{KEY}.components[{index}].weight", value)

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Model outputs and targets -> weighted sum (scalar); refreshes `last_components`."""
        total: torch.Tensor | None = None
        values = {}
        for key, part in self.parts.items():
            value = part(outputs, targets)
            values[key] = value.detach()
            weight = self._weights[key]
            # A weight-0 term is still computed (its curve stays visible for steering) but left out of the
            # sum, so a NaN in a switched-off component cannot poison the total.
            if weight:
                total = weight * value if total is None else total + weight * value
        self.last_components = values
        # All weights 0: a zero that still has a graph, so backward() works.
        return total if total is not None else outputs.float().sum() * 0.0

    def get_extra_state(self) -> dict[str, float]:
        """The weights, saved in `state_dict()` (steered values are restored on resume)."""
        return dict(self._weights)

    def set_extra_state(self, state: dict[str, float]) -> None:
        """Restore weights saved by `get_extra_state` (components must match by name)."""
        for name, value in state.items():
            self.set_weight(name, value)


def check_weight(key: str, value: Any) -> float:
    """A component weight: a finite number >= 0, returned as float; else a ConfigError under `key`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(key, f"expected a number >= 0, got {value!r}")
    if value < 0:
        raise ConfigError(key, f"must be >= 0, got {value}")
    return float(value)


def unique_key(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`, ... for the second and later components of the same loss."""
    key, count = name, 1
    while key in taken:
        count += 1
        key = f"{name}_{count}"
    return key


def _rekey(error: ConfigError, where: str) -> ConfigError:
    """Move a component factory's `loss.<param>` error under `loss.components[i].<param>`."""
    if error.key == KEY or error.key.startswith(f"{KEY}."):
        return ConfigError(where + error.key[len(KEY) :], error.message)
    return error


def _check_params(name: str, params: dict[str, Any]) -> None:
    """Unknown component params are config errors (the factory would raise a bare TypeError)."""
    # Skip the two positional inputs every factory takes: (embedding_dim, num_classes).
    allowed = list(inspect.signature(LOSSES.get(name).factory).parameters)[2:]
    for key in params:
        if key not in allowed:
            message = f"unknown key{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}"
            raise ConfigError(f"{KEY}.{key}", message)


def build_component(index: int, item: Any, embedding_dim: int, num_classes: int) -> tuple[str, Loss, float]:
    """(registry name, module, weight) of one resolved component `{"name", "weight", **params}`."""
    where = f"{KEY}.components[{index}]"
    if not isinstance(item, dict) or "name" not in item:
        raise ConfigError(where, f"expected a mapping with a loss 'name' (and 'weight'), got {item!r}")
    params = preset_params(item)
    name = str(item["name"])
    weight = check_weight(f"{where}.weight", params.pop("weight", 1.0))
    if name == "mix":
        raise ConfigError(f"{where}.name", "a loss mix cannot contain another mix")
    try:
        _check_params(name, params)
        return name, LOSSES.build(name, embedding_dim, num_classes, **params), weight
    except ConfigError as error:
        raise _rekey(error, where) from None


@LOSSES.register("mix")
def mix(embedding_dim: int, num_classes: int, components: list[dict[str, Any]] | None = None) -> Loss:
    """Weighted sum of losses, each from its own preset; each component is logged as loss/<name>."""
    if not isinstance(components, list) or not components:
        example = "[{preset: cosface, weight: 0.7}, ...]"
        raise ConfigError(f"{KEY}.components", f"expected a list of losses, e.g. {example}")
    parts: dict[str, Loss] = {}
    weights: dict[str, float] = {}
    for index, item in enumerate(components):
        name, module, weight = build_component(index, item, embedding_dim, num_classes)
        key = unique_key(name, set(parts))
        module.name = key  # so the component's own last_components agrees with the mix's
        parts[key], weights[key] = module, weight
    return LossMix(parts, weights)
