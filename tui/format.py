"""Compact, fixed-width formatting of steps, durations, times and metrics for tables and headers."""

from __future__ import annotations

import time


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


def fmt_duration(seconds: float | None) -> str:
    """A duration in at most 7 characters with two units: 42s, 3m 07s, 1h 05m, 2d 03h."""
    if seconds is None or seconds < 0:
        return "–"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86_400}d {s % 86_400 // 3600:02d}h"


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
