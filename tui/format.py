"""Compact, fixed-width formatting of steps, durations, times and metrics for tables and headers."""

from __future__ import annotations

import time

from engine.core.durations import (
    fmt_duration as fmt_duration,  # with the other formats; the core needs it too
)


def fmt_count(n: int | None) -> str:
    """A step count in at most 5 characters: 950, 9,999, 12.5k, 250k, 1.2M."""
    if n is None:
        return "–"
    if n < 10_000:
        return f"{n:,}"
    if n < 100_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    if n < 1_000_000:
        return f"{n // 1000}k"
    return f"{n / 1e6:.1f}M".replace(".0M", "M")


def fmt_progress(step: int | None, max_steps: int | None) -> str:
    """`step/max` for a run's progress ("–" when unknown, just the step when there is no maximum)."""
    if step is None:
        return "–"
    if not max_steps:
        return fmt_count(step)
    return f"{fmt_count(step)}/{fmt_count(max_steps)}"


def fmt_started(t: float | None, now: float) -> str:
    """When something started, local time: 14:05 today, "Mar 04" this year, "2024-03" before."""
    if t is None:
        return "–"
    then, today = time.localtime(t), time.localtime(now)
    if then[:3] == today[:3]:
        return time.strftime("%H:%M", then)
    if then.tm_year == today.tm_year:
        return time.strftime("%b %d", then)
    return time.strftime("%Y-%m", then)


def fmt_metric(value: float | None) -> str:
    """A percent-scale metric with one decimal ("–" when missing)."""
    return "–" if value is None else f"{value:.1f}"
