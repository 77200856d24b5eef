"""Freeze schedules as data (torch-free): which group paths train in which phase, from a `freeze` section.

The engine applies a phase to a model (`engine.freeze`); the console reads the names and hints from here.
"""

from __future__ import annotations

from typing import Any

from engine.core.config import preset_params
from engine.core.freeze.entries import DEFAULT_PHASES, FREEZE, parse_phases
from engine.core.freeze.schedule import (
    ALL,
    FREEZE_HINT,
    GROUPS,
    FreezeSchedule,
    PathResolver,
    Phase,
    PhaseSpec,
    phase_at,
    steered_value,
    warmup_factors,
)

__all__ = [
    "ALL",
    "DEFAULT_PHASES",
    "FREEZE",
    "FREEZE_HINT",
    "GROUPS",
    "FreezeSchedule",
    "PathResolver",
    "Phase",
    "PhaseSpec",
    "build_freeze",
    "parse_phases",
    "phase_at",
    "steered_value",
    "warmup_factors",
]


def build_freeze(section: dict[str, Any]) -> FreezeSchedule:
    """The schedule a resolved `freeze` section describes (`{"name": ..., **params}`)."""
    return FREEZE.build(str(section.get("name", "none")), **preset_params(section))
