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

from typing import Any

from engine.core.config.presets import preset_params
from engine.core.schedules import decay, yolox  # noqa: F401  (registers the entries)
from engine.core.schedules.common import SCHEDULES, WARMUP_TYPES, warmup_factor
from engine.core.schedules.yolox import YOLOX_LR_PER_IMG, yolox_base_lr

__all__ = [
    "SCHEDULES",
    "WARMUP_TYPES",
    "YOLOX_LR_PER_IMG",
    "lr_curve",
    "lr_factor",
    "warmup_factor",
    "yolox_base_lr",
]

# Keys the config resolver keeps for display; they are not factory parameters.


def lr_factor(section: dict[str, Any], step: int, max_steps: int) -> float:
    """Multiplier of the base LR at 0-based `step` of a `max_steps`-step run.

    Args:
        section: The resolved `schedule` section, `{"name": ..., **params}`.
        step: Current optimizer step, 0-based.
        max_steps: Total steps of the run (`train.max_steps`).

    Raises:
        ConfigError: Unknown schedule name or a bad parameter, naming its `schedule.<key>`.
    """
    params = preset_params(section)
    return float(SCHEDULES.build(str(section["name"]), step, max_steps, **params))


def lr_curve(section: dict[str, Any], max_steps: int, points: int = 200) -> list[tuple[int, float]]:
    """(step, factor) pairs at up to `points` evenly spaced steps in [0, max_steps], for plotting."""
    if max_steps <= 0:
        return [(0, lr_factor(section, 0, max_steps))]
    count = max(2, min(points, max_steps + 1))
    steps = sorted({round(i * max_steps / (count - 1)) for i in range(count)})
    return [(s, lr_factor(section, s, max_steps)) for s in steps]
