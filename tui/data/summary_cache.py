"""Per-run config summaries remembered across console sessions, so reopening a big runs folder is instant."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CACHE_VERSION = 1
"""Bumped whenever the stored summary fields change (older files are ignored)."""

Stamp = tuple[int, int]
"""(mtime_ns, size) of a config.yaml: a summary is reused only while the file is unchanged."""


def default_cache_path(runs_dir: Path) -> Path:
    """`$XDG_CACHE_HOME/labconsole/runs-index/<hash of the runs folder>.json` (~/.cache by default)."""
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha1(str(Path(runs_dir).absolute()).encode()).hexdigest()[:16]
    return home / "labconsole" / "runs-index" / f"{digest}.json"


class SummaryCache:
    """run id -> (config stamp, summary dict), loaded lazily and saved atomically; never raises on I/O."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        """Where the cache lives; None disables it."""
        self._entries: dict[str, tuple[Stamp, dict[str, Any]]] | None = None
        self._dirty = False

    def get(self, run_id: str, stamp: Stamp) -> dict[str, Any] | None:
        """The stored summary of `run_id` if its config.yaml still has `stamp`."""
        entry = self._load().get(run_id)
        return entry[1] if entry is not None and entry[0] == stamp else None

    def put(self, run_id: str, stamp: Stamp, summary: dict[str, Any]) -> None:
        """Remember a freshly parsed summary."""
        self._load()[run_id] = (stamp, summary)
        self._dirty = True

    def save(self, keep: set[str]) -> None:
        """Write the cache (only the runs in `keep`) when something new was stored."""
        if not self._dirty or self.path is None:
            return
        entries = {k: [list(v[0]), v[1]] for k, v in self._load().items() if k in keep}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"version": CACHE_VERSION, "runs": entries}), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only home only costs speed
            return
        self._dirty = False

    def _load(self) -> dict[str, tuple[Stamp, dict[str, Any]]]:
        """Read the cache file once (empty when missing, unreadable or from another version)."""
        if self._entries is None:
            self._entries = {}
            data = self._read()
            if (
                isinstance(data, dict)
                and data.get("version") == CACHE_VERSION
                and isinstance(data.get("runs"), dict)
            ):
                for run_id, entry in data["runs"].items():
                    if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], dict):
                        self._entries[run_id] = ((int(entry[0][0]), int(entry[0][1])), entry[1])
        return self._entries

    def _read(self) -> Any:
        """The raw JSON of the cache file, or None."""
        if self.path is None:
            return None
        try:
            return json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return None
