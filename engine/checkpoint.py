"""Checkpoints: last.pt / best.pt written atomically; loaded with weights_only=True; corrupt files are user errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from engine.core.errors import UserError


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write to a temporary file then rename, so a crash mid-write never leaves a torn checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint safely (no arbitrary unpickling); a missing or corrupt file is one clear message."""
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for truncated or foreign files
        raise UserError(
            f"checkpoint {path} is unreadable or corrupt ({type(exc).__name__}: {str(exc)[:120]})"
        ) from None
