"""Classic LR schedules after an optional warmup: constant, cosine, poly, step, multistep, exponential."""

from __future__ import annotations

import math
from bisect import bisect_right

from engine.core.errors import ConfigError, shown
from engine.core.schedules.common import (
    KEY,
    SCHEDULES,
    check_int,
    check_number,
    check_ratio,
    decay_clock,
    progress,
    warmup_factor,
)

# Every schedule below takes the same three warmup keys (see common.warmup_factor); while the warmup
# runs its factor replaces the schedule's, which then starts from its own step 0 (torch's SequentialLR).


@SCHEDULES.register("constant")
def constant(
    step: int,
    max_steps: int,
    warmup_steps: int = 0,
    warmup_type: str = "linear",
    warmup_lr_start: float | None = None,
) -> float:
    """Constant LR after an optional warmup."""
    warm = warmup_factor(step, warmup_steps, warmup_type, warmup_lr_start)
    return 1.0 if warm is None else warm


@SCHEDULES.register("cosine")
def cosine(
    step: int,
    max_steps: int,
    warmup_steps: int = 0,
    min_lr_ratio: float = 0.0,
    warmup_type: str = "linear",
    warmup_lr_start: float | None = None,
) -> float:
    """Warmup, then half a cosine down to min_lr_ratio at max_steps (CosineAnnealingLR)."""
    check_ratio(min_lr_ratio)
    warm = warmup_factor(step, warmup_steps, warmup_type, warmup_lr_start)
    if warm is not None:
        return warm
    t = progress(step, warmup_steps, max_steps)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


@SCHEDULES.register("poly")
def poly(
    step: int,
    max_steps: int,
    power: float = 0.9,
    warmup_steps: int = 0,
    min_lr_ratio: float = 0.0,
    warmup_type: str = "linear",
    warmup_lr_start: float | None = None,
) -> float:
    """Warmup, then (1 - t/T)^power down to min_lr_ratio at max_steps (PolynomialLR)."""
    check_ratio(min_lr_ratio)
    check_number("power", power, 0.0, math.inf, low_open=True)
    warm = warmup_factor(step, warmup_steps, warmup_type, warmup_lr_start)
    if warm is not None:
        return warm
    t = progress(step, warmup_steps, max_steps)
    return min_lr_ratio + (1.0 - min_lr_ratio) * (1.0 - t) ** power


@SCHEDULES.register("step")
def step_decay(
    step: int,
    max_steps: int,
    step_size: int = 1000,
    gamma: float = 0.1,
    warmup_steps: int = 0,
    warmup_type: str = "linear",
    warmup_lr_start: float | None = None,
) -> float:
    """Warmup, then × gamma every step_size steps (StepLR)."""
    check_int("step_size", step_size, 1)
    check_number("gamma", gamma, 0.0, math.inf, low_open=True)
    warm = warmup_factor(step, warmup_steps, warmup_type, warmup_lr_start)
    if warm is not None:
        return warm
    t, _ = decay_clock(step, warmup_steps, max_steps)
    return gamma ** (t // step_size)


# A list default (never mutated) so the preset's `milestones: []` and overrides type-check as lists.
@SCHEDULES.register("multistep")
def multistep(
    step: int,
    max_steps: int,
    milestones: list[int] = [],  # noqa: B006
    gamma: float = 0.1,
    warmup_steps: int = 0,
    warmup_type: str = "linear",
    warmup_lr_start: float | None = None,
) -> float:
    """Warmup, then × gamma at each milestone step, counted from the end of warmup (MultiStepLR)."""
    if not isinstance(milestones, list):
        raise ConfigError(f"{KEY}.milestones", f"expected a list of steps, got {shown(milestones)}")
    for milestone in milestones:
        check_int("milestones", milestone, 0)
    check_number("gamma", gamma, 0.0, math.inf, low_open=True)
    warm = warmup_factor(step, warmup_steps, warmup_type, warmup_lr_start)
    if warm is not None:
        return warm
    t, _ = decay_clock(step, warmup_steps, max_steps)
    # MultiStepLR decays *at* a milestone; a repeated milestone decays twice, as in torch.
    return gamma ** bisect_right(sorted(milestones), t)


@SCHEDULES.register("exponential")
def exponential(
    step: int,
    max_steps: int,
    gamma: float = 0.999,
    warmup_steps: int = 0,
    warmup_type: str = "linear",
    warmup_lr_start: float | None = None,
) -> float:
    """Warmup, then × gamma every step (ExponentialLR)."""
    check_number("gamma", gamma, 0.0, math.inf, low_open=True)
    warm = warmup_factor(step, warmup_steps, warmup_type, warmup_lr_start)
    if warm is not None:
        return warm
    t, _ = decay_clock(step, warmup_steps, max_steps)
    return gamma**t
