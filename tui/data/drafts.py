"""Unsent drafts of the launch surfaces, kept on disk so leaving a screen (or the console) loses nothing.

`$XDG_CACHE_HOME/labconsole/drafts/<key>.yaml` (~/.cache by default), one file per screen and base config.
A draft is a convenience: one that cannot be read or written is treated as absent, never as an error.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import yaml


def drafts_dir() -> Path:
    """The drafts folder, read from the environment on every call (tests point XDG_CACHE_HOME elsewhere)."""
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home / "labconsole" / "drafts"


def draft_key(screen: str, base: Path | None = None) -> str:
    """`composer-<hash of the base path>`: each base config keeps its own draft; `launcher` has one."""
    if base is None:
        return screen
    digest = hashlib.sha1(str(Path(base).resolve()).encode("utf-8")).hexdigest()[:16]
    return f"{screen}-{digest}"


def _path(key: str) -> Path:
    return drafts_dir() / f"{key}.yaml"


def load_draft(key: str) -> dict[str, Any] | None:
    """The stored draft, or None when there is none (or it cannot be read)."""
    try:
        data = yaml.safe_load(_path(key).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def store_draft(key: str, draft: dict[str, Any]) -> None:
    """Keep `draft` under `key` (replacing the previous one)."""
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(draft, sort_keys=False, allow_unicode=True), encoding="utf-8")
    except OSError:
        pass  # a draft is a convenience; a full disk must not stop the user from leaving the screen


def clear_draft(key: str) -> None:
    """Forget the draft under `key` (launched, saved or discarded)."""
    _path(key).unlink(missing_ok=True)
