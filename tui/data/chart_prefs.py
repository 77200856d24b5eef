"""Which charts a researcher chose, per view and task, kept across sessions in one small JSON file.

`$LABCONSOLE_CHART_PREFS` (a file path) when set, else `$XDG_CONFIG_HOME/labconsole/charts.json`
(~/.config by default): {"monitor": {"vpr": ["loss", "lr", "eval/*/R@1"]}, "compare": {...}}.
Preferences are a convenience: a file that cannot be read or written is treated as absent, never as an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MAX_CHARTS = 8
"""Charts kept per view and task (more would leave each one too short to read)."""


def prefs_path() -> Path:
    """The preferences file, read from the environment on every call (tests point it elsewhere)."""
    override = os.environ.get("LABCONSOLE_CHART_PREFS")
    if override:
        return Path(override)
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return home / "labconsole" / "charts.json"


def _read() -> dict[str, Any]:
    try:
        data = json.loads(prefs_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_charts(view: str, task: str) -> list[str] | None:
    """The charts chosen for `view` ("monitor" or "compare") on runs of `task`; None when never chosen."""
    charts = (_read().get(view) or {}).get(task or "default")
    if not isinstance(charts, list) or not all(isinstance(c, str) for c in charts):
        return None
    return charts[:MAX_CHARTS]


def store_charts(view: str, task: str, charts: list[str]) -> None:
    """Remember `charts` for `view` and `task` (written atomically; failures are ignored)."""
    path = prefs_path()
    data = _read()
    found = data.get(view)
    section: dict[str, Any] = found if isinstance(found, dict) else {}
    section[task or "default"] = list(charts[:MAX_CHARTS])
    data[view] = section
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a preference is a convenience; a read-only home must not break the picker
