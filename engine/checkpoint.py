"""Checkpoints: last.pt / best.pt written atomically; loaded with weights_only=True; corrupt files are user errors."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from pathlib import Path
from typing import Any

import torch

from engine.core.errors import UserError


class CheckpointWriteError(Exception):
    """A checkpoint could not be written (full disk, quota, permissions); the previous one is still in place."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write to a temporary file then rename, so a crash or a full disk never leaves a torn checkpoint: the
    previous file stays until the new one is complete, and a failed write leaves no temporary file behind."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as file:  # through a Python file, the OS error (full disk, quota) stays visible
            torch.save(state, file)
        os.replace(tmp, path)
    except (
        OSError,
        RuntimeError,
    ) as exc:  # torch reports a failed write as RuntimeError ("enforce fail ...")
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise CheckpointWriteError(
            f"could not write checkpoint {path}: {_write_failure(exc, path)}"
        ) from None


def _write_failure(exc: BaseException, path: Path) -> str:
    """The OS's reason (torch wraps it in "enforce fail at inline_container.cc"), else the free space's."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    with contextlib.suppress(OSError):
        stats = os.statvfs(path.parent)
        if stats.f_bavail * stats.f_frsize < 1 << 20:
            return os.strerror(errno.ENOSPC)
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint safely (no arbitrary unpickling); a missing or corrupt file is one clear message."""
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for truncated or foreign files
        raise UserError(f"checkpoint {path} is unreadable: {load_failure(exc)}") from None


def load_failure(exc: BaseException) -> str:
    """Why torch.load(weights_only=True) refused a file, in one line and without torch's advice to turn the
    safety off (weights_only=False would run whatever code the file carries)."""
    text = str(exc)
    refused = re.search(r"GLOBAL ([\w.]+)", text)
    if refused:
        return (
            f"it holds a pickled Python object ({refused.group(1)}) besides tensors, refused because loading "
            f"it could run code; save a plain state_dict (torch.save(model.state_dict(), ...)) or .safetensors"
        )
    detail = text.split("WeightsUnpickler error:", 1)[1] if "WeightsUnpickler error:" in text else text
    first = next((line.strip() for line in detail.splitlines() if line.strip()), "")
    return f"corrupt or not a torch file ({type(exc).__name__}{': ' + first[:120] if first else ''})"
