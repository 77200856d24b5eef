"""Make the embedded synthetic data set on first use, once, even when several runs start together."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

from engine.protocol import EventWriter

MARKER = "synth_vpr.json"


def ensure_data(cfg: dict[str, Any], events: EventWriter | None = None) -> None:
    """Build the synthetic city at data.root when asked for and not yet complete (its marker is written last)."""
    data = cfg["data"]
    root = Path(data["root"])
    if not data.get("synthetic") or (root / MARKER).is_file():
        return
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second run waits here instead of writing the same files
        if (root / MARKER).is_file():
            return
        if events is not None:
            events.emit("phase", phase="preparing data", message=f"making the synthetic city at {root}")
        print(f"[labconsole] making the synthetic VPR city at {root} (first use)", flush=True)
        from engine.data.synth_vpr import make_synth_vpr

        make_synth_vpr(root, seed=data["synthetic_seed"], train_places=data["synthetic_places"])
