"""Rerunning a run exactly: its stored config under a fresh name, and what changed since it ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.core.protocol import RunPaths
from engine.core.protocol.listing import read_run_info
from engine.core.provenance import collect_provenance, differences
from tui.data.launching import LaunchRequest, fresh_run_name, run_names

NO_PROVENANCE = "it recorded no provenance (an older run): what changed since cannot be told"


def changes_since(run_root: Path, cfg: dict[str, Any]) -> list[str]:
    """What differs between the run's recorded provenance and this machine now (code, versions, weights)."""
    recorded = (read_run_info(run_root) or {}).get("provenance")
    if not isinstance(recorded, dict):
        return [NO_PROVENANCE]
    return differences(recorded, collect_provenance(cfg, None, []))


def rerun_request(run_root: Path, cfg: dict[str, Any], name: str | None = None) -> LaunchRequest:
    """Launch the run's config.yaml again under `name` (default: a fresh `<name>-N`), recording that command."""
    paths = RunPaths(run_root)
    name = name or fresh_run_name(str(cfg.get("name") or paths.run_id), run_names(run_root.parent))
    argv = ("labconsole", "run", str(paths.config), "--name", name)
    return LaunchRequest(str(paths.config), (), name, argv)
