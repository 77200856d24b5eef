"""Freeze schedules: which parameters train in which phase of a run, and applying a phase to a model.

`FREEZE`, `FreezeSchedule`, `Phase` and the phase arithmetic are torch-free (the console may import
them); `apply_phase`, `enforce_norm_eval`, `phase_table`, `backbone_stages` and `group_paths` load
torch on first use.
"""

from __future__ import annotations

from typing import Any

from engine.freeze.entries import DEFAULT_PHASES, FREEZE, parse_phases
from engine.freeze.schedule import (ALL, FREEZE_HINT, GROUPS, FreezeSchedule, Phase, PhaseSpec, phase_at, steered_value,
                                   warmup_factors)

# Torch-side names -> the module defining them, imported lazily (PEP 562) to keep this package torch-free.
_LAZY = {"apply_phase": "apply", "enforce_norm_eval": "apply", "phase_table": "apply",
         "backbone_stages": "stages", "group_paths": "stages", "resolve_paths": "stages",
         "StageView": "stages"}

__all__ = ["ALL", "DEFAULT_PHASES", "FREEZE", "FREEZE_HINT", "GROUPS", "FreezeSchedule", "Phase", "PhaseSpec",
           "build_freeze", "parse_phases", "phase_at", "steered_value", "warmup_factors",
           *_LAZY]


def build_freeze(section: dict[str, Any]) -> FreezeSchedule:
    """The schedule a resolved `freeze` section describes (`{"name": ..., **params}`)."""
    params = {k: v for k, v in section.items() if k not in ("name", "preset", "description")}
    return FREEZE.build(str(section.get("name", "none")), **params)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"engine.freeze.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'engine.freeze' has no attribute {name!r}")
