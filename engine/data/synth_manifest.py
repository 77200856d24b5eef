"""Building a synthetic data set once: size checks, reuse of a finished build, and the manifest written last."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from engine.core.errors import UserError


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


def check_sizes(what: str, sizes: dict[str, Any]) -> None:
    """UserError unless every size is a positive integer (`what` names the data set in the message)."""
    for name, value in sizes.items():
        if not isinstance(value, int) or value < 1:
            raise UserError(f"{what}: {name} must be a positive integer, got {value!r}")


def build_once(
    root: Path, manifest: str, params: Any, clear: Callable[[Path], None], write: Callable[[], dict]
) -> dict:
    """Reuse a finished build made with `params`, else clear the old files, `write()` and mark the folder done.

    `write` returns the summary's middle fields (counts, bytes, …); the summary gets `params` first and
    `seconds` last, is stored as the manifest (written last: its presence marks a complete folder) and
    returned with `reused`.
    """
    reused = stored_summary(root, manifest, params)
    if reused is not None:
        return {**reused, "reused": True}
    start = time.perf_counter()
    clear(root)
    summary = {"params": asdict(params), **write(), "seconds": round(time.perf_counter() - start, 2)}
    write_manifest(root, manifest, summary)
    return {**summary, "reused": False}
