"""Which checkpoint a resume starts from: the newest of checkpoints/last.pt and best.pt (torch-free)."""

from __future__ import annotations

from pathlib import Path

from engine.core.protocol.rundir import RunPaths

CHECKPOINT_NAMES = ("last.pt", "best.pt")


def newest_checkpoint(paths: RunPaths) -> Path | None:
    """The most recently written of last.pt and best.pt, None when the run has neither.

    best.pt can be newer than last.pt (an evaluation improved after the last periodic save) and the run
    then continues from the later step rather than redoing it; either is written atomically.
    """
    found = []
    for name in CHECKPOINT_NAMES:
        path = paths.checkpoints / name
        try:
            found.append((path.stat().st_mtime_ns, name == "last.pt", path))
        except OSError:
            continue
    return max(found)[2] if found else None
