"""Shared parts of the LR schedules: the registry, parameter checks, the warmup ramps and the decay clock."""

from __future__ import annotations

import math

from engine.core.errors import ConfigError, shown
from engine.core.registry import Registry

SCHEDULES = Registry("LR schedule", "schedule.name")
#: Dotted config key that schedule errors are reported under.
KEY = "schedule"
WARMUP_TYPES = ("linear", "exponential", "quadratic")
#: Largest step count a schedule takes: 2^53 steps is far beyond any run, and steps stay exact as floats.
MAX_STEP = 2**53


def check_int(name: str, value: object, minimum: int) -> int:
    """An integer parameter in [minimum, MAX_STEP] (bools rejected), else a ConfigError naming `schedule.<name>`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{KEY}.{name}", f"expected an integer >= {minimum}, got {shown(value)}")
    if value > MAX_STEP:
        raise ConfigError(f"{KEY}.{name}", f"expected an integer <= 2^53, got {shown(value)}")
    return value


def check_number(name: str, value: object, low: float, high: float, low_open: bool = False) -> float:
    """A finite number in [low, high] ((low, high] when `low_open`), else a ConfigError naming `schedule.<name>`."""
    number = _finite(value)
    above_low = number is not None and (number > low if low_open else number >= low)
    if number is None or not above_low or number > high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if math.isinf(high) else ']'}"
        raise ConfigError(f"{KEY}.{name}", f"expected a number in {interval}, got {shown(value)}")
    return number


def _finite(value: object) -> float | None:
    """`value` as a finite float, or None (not a number, a bool, NaN, ±inf, or an int beyond a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def check_ratio(min_lr_ratio: float) -> float:
    """The floor of a decaying schedule, as a fraction of the base LR."""
    return check_number("min_lr_ratio", min_lr_ratio, 0.0, 1.0)


def warmup_start(warmup_steps: int, warmup_type: str, warmup_lr_start: float | None) -> float:
    """The warmup's factor at step 0; None picks the type's default.

    The defaults: linear and exponential start at 1 / (warmup_steps + 1), which makes the linear ramp
    (step + 1) / (warmup_steps + 1), i.e. torch's LinearLR(start_factor=1 / (warmup_steps + 1),
    total_iters=warmup_steps); quadratic starts at 0, as YOLOX does.
    """
    if warmup_type not in WARMUP_TYPES:
        message = f"'{warmup_type}' is not allowed; allowed: {', '.join(WARMUP_TYPES)}"
        raise ConfigError(f"{KEY}.warmup_type", message)
    if warmup_lr_start is None:
        return 0.0 if warmup_type == "quadratic" else 1.0 / (warmup_steps + 1)
    # A geometric ramp cannot start from 0.
    return check_number("warmup_lr_start", warmup_lr_start, 0.0, 1.0, low_open=warmup_type == "exponential")


def warmup_factor(
    step: int, warmup_steps: int, warmup_type: str = "linear", warmup_lr_start: float | None = None
) -> float | None:
    """The warmup's LR factor while `step < warmup_steps`, else None (the schedule proper takes over).

    With s = warmup_lr_start and u = step / warmup_steps, the ramps rise from s at step 0 to 1 at
    `warmup_steps`:

    - linear: s + (1 - s) u
    - quadratic: s + (1 - s) u², YOLOX's warmup
    - exponential: s^(1 - u) = s (1/s)^u, a geometric ramp (mmcv's "exp" warmup; torch's ExponentialLR
      with gamma = (1/s)^(1/warmup_steps) started from s × base LR); needs s > 0.

    Args:
        step: Current step, 0-based.
        warmup_steps: Length of the warmup (0: none).
        warmup_type: linear, exponential or quadratic.
        warmup_lr_start: Factor at step 0 (None: the type's default, see `warmup_start`).
    """
    check_int("warmup_steps", warmup_steps, 0)
    start = warmup_start(warmup_steps, warmup_type, warmup_lr_start)
    if step >= warmup_steps:
        return None
    u = step / warmup_steps
    if warmup_type == "linear":
        return start + (1.0 - start) * u
    if warmup_type == "quadratic":
        return start + (1.0 - start) * u * u
    return start ** (1.0 - u)


def decay_clock(step: int, warmup_steps: int, max_steps: int) -> tuple[int, int]:
    """(t, span): steps since the warmup ended, and the decay's length `max_steps - warmup_steps`.

    t is clamped to [0, span], so every schedule holds its last value after `max_steps`. Counting from
    the end of warmup is torch's SequentialLR([warmup, decay], milestones=[warmup_steps]).
    """
    span = max(max_steps - warmup_steps, 0)
    return min(max(step - warmup_steps, 0), span), span


def progress(step: int, warmup_steps: int, max_steps: int) -> float:
    """Fraction t/T of the decay done at `step`, in [0, 1]; 1 when there is nothing left to decay."""
    t, span = decay_clock(step, warmup_steps, max_steps)
    return 1.0 if span == 0 else t / span
