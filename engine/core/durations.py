"""A duration in a few characters, as every table shows one (the console's, and the exports written by the core)."""

from __future__ import annotations


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
