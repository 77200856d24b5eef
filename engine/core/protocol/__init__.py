"""Torch-free run-directory protocol shared by engine, console and CLI: run folders, run.json, events, control."""

from __future__ import annotations

from engine.core.protocol.control import CONTROL_ACTIONS, ControlReader, parse_command, send_control
from engine.core.protocol.events import EventReader, EventWriter, iter_events
from engine.core.protocol.listing import find_run, list_runs, load_run_info, run_folders
from engine.core.protocol.rundir import (
    RUN_ID_RE,
    RUNS_ENV,
    RunPaths,
    create_run,
    new_run_id,
    read_json,
    resolve_runs_dir,
    validate_run_id,
    write_json_atomic,
)
from engine.core.protocol.runinfo import (
    FINISHED,
    STATUSES,
    effective_status,
    headline,
    metric_order,
    new_run_info,
    this_host,
    train_seconds,
    update_run_info,
)

__all__ = [
    "CONTROL_ACTIONS",
    "FINISHED",
    "RUNS_ENV",
    "RUN_ID_RE",
    "STATUSES",
    "ControlReader",
    "EventReader",
    "EventWriter",
    "RunPaths",
    "create_run",
    "effective_status",
    "find_run",
    "headline",
    "iter_events",
    "list_runs",
    "load_run_info",
    "metric_order",
    "new_run_id",
    "new_run_info",
    "parse_command",
    "read_json",
    "resolve_runs_dir",
    "run_folders",
    "send_control",
    "this_host",
    "train_seconds",
    "update_run_info",
    "validate_run_id",
    "write_json_atomic",
]
