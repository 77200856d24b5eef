"""LR schedules as pure functions of the step (stdlib only: the console imports this to draw LR curves).

Every schedule is a multiplier of the base LR. Warmup (all schedules) rises linearly as
(step + 1) / (warmup_steps + 1), which equals torch's LinearLR(start_factor=1 / (warmup_steps + 1),
total_iters=warmup_steps) and reaches 1 at `warmup_steps`. The decay then runs over the remaining
`max_steps - warmup_steps` steps, reaching its floor at `max_steps` and staying there after it.
"""

from __future__ import annotations

import math
from typing import Any

from engine.errors import ConfigError
from engine.registry import Registry

SCHEDULES = Registry("LR schedule", "schedule.name")
_KEY = "schedule"
# Keys the config resolver keeps for display; they are not factory parameters.
_BOOKKEEPING = ("preset", "description")


def _warmup(step: int, warmup_steps: int) -> float | None:
    """The warmup factor while `step < warmup_steps`, else None."""
    if warmup_steps < 0:
        raise ConfigError(f"{_KEY}.warmup_steps", f"must be >= 0, got {warmup_steps}")
    return (step + 1) / (warmup_steps + 1) if step < warmup_steps else None


def _progress(step: int, warmup_steps: int, max_steps: int) -> float:
    """Fraction t/T of the decay done at `step`, in [0, 1]; 1 when there is nothing left to decay."""
    span = max_steps - warmup_steps
    return 1.0 if span <= 0 else min(max(step - warmup_steps, 0) / span, 1.0)


def _check_ratio(min_lr_ratio: float) -> None:
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ConfigError(f"{_KEY}.min_lr_ratio", f"must be in [0, 1], got {min_lr_ratio}")


@SCHEDULES.register("constant")
def constant(step: int, max_steps: int, warmup_steps: int = 0) -> float:
    """Constant LR after an optional linear warmup."""
    warm = _warmup(step, warmup_steps)
    return 1.0 if warm is None else warm


@SCHEDULES.register("cosine")
def cosine(step: int, max_steps: int, warmup_steps: int = 0, min_lr_ratio: float = 0.0) -> float:
    """Linear warmup, then half a cosine down to min_lr_ratio at max_steps (CosineAnnealingLR)."""
    _check_ratio(min_lr_ratio)
    warm = _warmup(step, warmup_steps)
    if warm is not None:
        return warm
    t = _progress(step, warmup_steps, max_steps)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


@SCHEDULES.register("poly")
def poly(step: int, max_steps: int, power: float = 0.9, warmup_steps: int = 0,
         min_lr_ratio: float = 0.0) -> float:
    """Linear warmup, then (1 - t/T)^power down to min_lr_ratio at max_steps (PolynomialLR)."""
    _check_ratio(min_lr_ratio)
    if power <= 0:
        raise ConfigError(f"{_KEY}.power", f"must be positive, got {power}")
    warm = _warmup(step, warmup_steps)
    if warm is not None:
        return warm
    t = _progress(step, warmup_steps, max_steps)
    return min_lr_ratio + (1.0 - min_lr_ratio) * (1.0 - t) ** power


def lr_factor(section: dict[str, Any], step: int, max_steps: int) -> float:
    """Multiplier of the base LR at 0-based `step` of a `max_steps`-step run.

    Args:
        section: The resolved `schedule` section, `{"name": ..., **params}`.
        step: Current optimizer step, 0-based.
        max_steps: Total steps of the run (`train.max_steps`).
    """
    params = {k: v for k, v in section.items() if k not in _BOOKKEEPING}
    return float(SCHEDULES.build(str(params.pop("name")), step, max_steps, **params))


def lr_curve(section: dict[str, Any], max_steps: int, points: int = 200) -> list[tuple[int, float]]:
    """(step, factor) pairs at up to `points` evenly spaced steps in [0, max_steps], for plotting."""
    if max_steps <= 0:
        return [(0, lr_factor(section, 0, max_steps))]
    count = max(2, min(points, max_steps + 1))
    steps = sorted({round(i * max_steps / (count - 1)) for i in range(count)})
    return [(s, lr_factor(section, s, max_steps)) for s in steps]
