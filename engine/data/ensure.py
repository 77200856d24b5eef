"""Make the embedded synthetic data set on first use, once, even when several runs start together."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

from engine.core.errors import ConfigError
from engine.core.protocol import EventWriter

MARKER = "synth_vpr.json"


def ensure_data(cfg: dict[str, Any], events: EventWriter | None = None) -> None:
    """Build the task's synthetic data at data.root when asked for and not yet complete (its marker is written last)."""
    data = cfg["data"]
    root = Path(data["root"])
    task = cfg["task"]["name"]
    if not data.get("synthetic"):
        return
    if task not in _DATA_SETS:
        raise ConfigError(
            "data.synthetic",
            f"there is no synthetic data set for task {task}; available for: {', '.join(_DATA_SETS)}",
        )
    is_ready, make = _DATA_SETS[task]
    if is_ready(root, data):
        return
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second run waits here instead of writing the same files
        if is_ready(root, data):
            return
        make(root, data, events)


def _vpr_ready(root: Path, data: dict[str, Any]) -> bool:
    """A complete build by the current generator (an older one lacks the validation district), not just any."""
    from engine.data.synth_vpr import is_complete

    return is_complete(root, seed=data["synthetic_seed"], train_places=data["synthetic_places"])


def _make_vpr(root: Path, data: dict[str, Any], events: EventWriter | None) -> None:
    if events is not None:
        events.emit("phase", phase="preparing data", message=f"making the synthetic city at {root}")
    print(f"[labconsole] making the synthetic VPR city at {root} (first use)", flush=True)
    from engine.data.synth_vpr import make_synth_vpr

    make_synth_vpr(root, seed=data["synthetic_seed"], train_places=data["synthetic_places"])


def _seg_ready(root: Path, data: dict[str, Any]) -> bool:
    """A complete build by the current generator (its manifest says which), not just any build."""
    from engine.data.synth_seg import is_complete

    return is_complete(root, seed=data["synthetic_seed"])


def _make_seg(root: Path, data: dict[str, Any], events: EventWriter | None) -> None:
    if events is not None:
        events.emit("phase", phase="preparing data", message=f"making the synthetic street scenes at {root}")
    print(f"[labconsole] making the synthetic segmentation scenes at {root} (first use)", flush=True)
    from engine.data.synth_seg import make_synth_seg

    make_synth_seg(root, seed=data["synthetic_seed"])


def _cls_ready(root: Path, data: dict[str, Any]) -> bool:
    """A complete build by the current generator (its manifest says which), not just any build."""
    from engine.data.synth_cls import is_complete

    return is_complete(root, seed=data["synthetic_seed"])


def _make_cls(root: Path, data: dict[str, Any], events: EventWriter | None) -> None:
    if events is not None:
        events.emit("phase", phase="preparing data", message=f"making the synthetic shapes at {root}")
    print(f"[labconsole] making the synthetic classification shapes at {root} (first use)", flush=True)
    from engine.data.synth_cls import make_synth_cls

    make_synth_cls(root, seed=data["synthetic_seed"])


def _det_ready(root: Path, data: dict[str, Any]) -> bool:
    """A complete build by the current generator (its manifest says which), not just any build."""
    from engine.data.synth_det import is_complete

    return is_complete(root, seed=data["synthetic_seed"])


def _make_det(root: Path, data: dict[str, Any], events: EventWriter | None) -> None:
    if events is not None:
        events.emit("phase", phase="preparing data", message=f"making the synthetic street scenes at {root}")
    print(f"[labconsole] making the synthetic detection scenes at {root} (first use)", flush=True)
    from engine.data.synth_det import make_synth_det

    make_synth_det(root, seed=data["synthetic_seed"])


#: Per task: (is a usable build there?, make it).
_DATA_SETS = {
    "vpr": (_vpr_ready, _make_vpr),
    "segmentation": (_seg_ready, _make_seg),
    "classification": (_cls_ready, _make_cls),
    "detection": (_det_ready, _make_det),
}
