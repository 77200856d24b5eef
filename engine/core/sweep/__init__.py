"""Sweeps (torch-free): a grid or paired lists of config values queued as runs that carry the sweep.

`<runs>/.sweeps/<SWEEP_ID>/` holds the plan (sweep.json) and each point's run and status (state.json); a
detached queue process runs the points N at a time (engine.core.sweep.queue), or Slurm runs them as one job
array. Readers: list_sweeps, load_sweep; requests: request_sweep, extend_sweep; the table: sweep.table.
"""

from __future__ import annotations

from engine.core.sweep.plan import create_sweep, extend_sweep
from engine.core.sweep.requests import request_sweep
from engine.core.sweep.store import PointState, SweepState, find_sweep, list_sweeps, load_sweep

__all__ = [
    "PointState",
    "SweepState",
    "create_sweep",
    "extend_sweep",
    "find_sweep",
    "list_sweeps",
    "load_sweep",
    "request_sweep",
]
