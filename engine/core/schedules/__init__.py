"""LR schedules as pure functions of the step (stdlib only: the console imports this to draw LR curves).

Every schedule returns a multiplier of the base LR for 0-based optimizer step `step` of a
`max_steps`-step run; the engine multiplies it by each param group's `lr_mult` (backbone vs head vs
loss). Steps are the unit everywhere: the engine converts epochs to steps before it gets here.

Warmup (every schedule): `warmup_steps` (0: none), `warmup_type` (linear | exponential | quadratic) and
`warmup_lr_start` (the factor at step 0; null picks the type's default). During warmup its ramp replaces
the schedule, which then runs from its own step 0 over the remaining `max_steps - warmup_steps` steps —
torch's SequentialLR([warmup, schedule], milestones=[warmup_steps]). The default linear warmup rises as
(step + 1) / (warmup_steps + 1): torch's LinearLR(start_factor=1 / (warmup_steps + 1),
total_iters=warmup_steps). See `common.warmup_factor` for the three ramps.

Every decaying schedule reaches its end value at `max_steps` and keeps it afterwards.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any

from engine.core.config.presets import preset_params
from engine.core.errors import ConfigError, shown
from engine.core.schedules import decay, yolox  # noqa: F401  (registers the entries)
from engine.core.schedules.common import KEY, MAX_STEP, SCHEDULES, WARMUP_TYPES, warmup_factor
from engine.core.schedules.yolox import YOLOX_LR_PER_IMG, yolox_base_lr

#: Keys of the `schedule` section that are not parameters of its LR function: the warmup in epochs (converted
#: into warmup_steps when the run starts) and the mid-run changes (engine.core.schedules.changes).
SECTION_KEYS = ("warmup_epochs", "changes")

__all__ = [
    "SCHEDULES",
    "SECTION_KEYS",
    "WARMUP_TYPES",
    "YOLOX_LR_PER_IMG",
    "lr_curve",
    "lr_factor",
    "validate_schedule",
    "warmup_factor",
    "yolox_base_lr",
]


def lr_factor(section: dict[str, Any], step: int, max_steps: int) -> float:
    """Multiplier of the base LR at 0-based `step` of a `max_steps`-step run.

    Args:
        section: The resolved `schedule` section, `{"name": ..., **params}`.
        step: Current optimizer step, 0-based.
        max_steps: Total steps of the run (`train.max_steps`).

    Raises:
        ConfigError: Unknown schedule name, a parameter it does not take or a bad one, naming its
            `schedule.<key>`; or a factor too large for a float (a gamma > 1 compounded over many steps).
    """
    name = section.get("name")
    entry = SCHEDULES.get(name if isinstance(name, str) else shown(name))
    params = lr_params(section)
    _check_params(entry.name, entry.factory, params)
    try:
        return float(entry.factory(step, max_steps, **params))
    except OverflowError:
        key = f"{KEY}.gamma" if "gamma" in params else KEY
        raise ConfigError(key, f"the LR factor at step {step} is too large for a float") from None


def lr_params(section: dict[str, Any]) -> dict[str, Any]:
    """The parameters of the section's LR function (without its bookkeeping and SECTION_KEYS)."""
    return {k: v for k, v in preset_params(section).items() if k not in SECTION_KEYS}


def validate_schedule(section: dict[str, Any], max_steps: int) -> None:
    """Check a schedule section by evaluating it at step 0, the last step and `max_steps`: every bad
    parameter raises there, and the factor must be a finite number >= 0.

    The config resolver calls it for `schedule`, and live steering before it applies a change.

    Raises:
        ConfigError: naming the `schedule.<key>` at fault (`train.max_steps` for a bad step count).
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or not 0 <= max_steps <= MAX_STEP:
        raise ConfigError("train.max_steps", f"expected an integer in [0, 2^53], got {shown(max_steps)}")
    for step in sorted({0, max(max_steps - 1, 0), max_steps}):
        factor = lr_factor(section, step, max_steps)
        if not (math.isfinite(factor) and factor >= 0):
            raise ConfigError(KEY, f"the LR factor at step {step} is {factor}, not a finite number >= 0")


def _check_params(name: str, factory: Any, params: dict[str, Any]) -> None:
    """Every parameter is one the schedule takes (say `step_size` left over after switching step -> cosine)."""
    accepted = _parameters(factory)
    for key in params:
        if key not in accepted:
            raise ConfigError(
                f"{KEY}.{key}", f"not a parameter of the {name} schedule; it takes: {', '.join(accepted)}"
            )


def lr_curve(section: dict[str, Any], max_steps: int, points: int = 200) -> list[tuple[int, float]]:
    """(step, factor) pairs at up to `points` evenly spaced steps in [0, max_steps], for plotting."""
    if max_steps <= 0:
        return [(0, lr_factor(section, 0, max_steps))]
    count = max(2, min(points, max_steps + 1))
    steps = sorted({round(i * max_steps / (count - 1)) for i in range(count)})
    return [(s, lr_factor(section, s, max_steps)) for s in steps]


@functools.cache
def _parameters(factory: Any) -> tuple[str, ...]:
    """The keyword parameters of a schedule function (lr_factor runs every step: look them up once)."""
    return tuple(p for p in inspect.signature(factory).parameters if p not in ("step", "max_steps"))
