"""The manifest that marks a finished synthetic data set: written last, so its presence means complete."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any


def stored_summary(root: Path, manifest: str, params: Any) -> dict | None:
    """The stored summary when `root` holds a finished build made with the same parameters (a dataclass)."""
    try:
        summary = json.loads((root / manifest).read_text())
    except (OSError, ValueError):
        return None
    wanted = json.loads(json.dumps(asdict(params)))  # tuples as the JSON file holds them: lists
    return summary if isinstance(summary, dict) and summary.get("params") == wanted else None


def write_manifest(root: Path, manifest: str, summary: dict) -> None:
    """Write the manifest atomically (temp file, then rename)."""
    path = root / manifest
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2))
    os.replace(tmp, path)
