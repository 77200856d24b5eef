"""Freeze phases applied to a model: requires_grad per parameter, frozen BatchNorms, per-phase parameter tables.

The schedules themselves (phases as data, the registry, the steering hint) are torch-free and live in
`engine.core.freeze`; they are re-exported here so the engine has one place to import from.
"""

from __future__ import annotations

from engine.core.freeze import (
    ALL,
    DEFAULT_PHASES,
    FREEZE,
    FREEZE_HINT,
    GROUPS,
    FreezeSchedule,
    Phase,
    PhaseSpec,
    build_freeze,
    parse_phases,
    phase_at,
    steered_value,
    warmup_factors,
)
from engine.freeze.apply import apply_phase, enforce_norm_eval, parameter_counts_in, phase_table
from engine.freeze.stages import ModelPaths, StageView, backbone_stages, group_paths, resolve_paths

__all__ = [
    "ALL",
    "DEFAULT_PHASES",
    "FREEZE",
    "FREEZE_HINT",
    "GROUPS",
    "FreezeSchedule",
    "ModelPaths",
    "Phase",
    "PhaseSpec",
    "StageView",
    "apply_phase",
    "backbone_stages",
    "build_freeze",
    "enforce_norm_eval",
    "group_paths",
    "parameter_counts_in",
    "parse_phases",
    "phase_at",
    "phase_table",
    "resolve_paths",
    "steered_value",
    "warmup_factors",
]
