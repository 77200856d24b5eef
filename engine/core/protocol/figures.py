"""Where `image` events may point: a PNG under the run's figures/ folder, nowhere else (one rule for the engine
that writes them, the console that shows them and the export that copies them)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

FIGURES_DIR = "figures"
"""The folder of a run that holds its figures."""


class UnsafeFigurePath(ValueError):
    """An `image` event's path that is not a file under the run's figures/ folder."""


def figure_file(run_dir: Path, raw: Any) -> Path:
    """The file an `image` event's `path` names, absolute.

    Raises:
        UnsafeFigurePath: saying why the path is refused (not a path, absolute, '..', outside figures/, a link
            leading out).
    """
    if not isinstance(raw, str) or not raw.strip():
        raise UnsafeFigurePath(f"not a path: {raw!r}")
    if "\0" in raw:
        raise UnsafeFigurePath("contains a NUL character")
    posix, windows = PurePosixPath(raw), PureWindowsPath(raw)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or raw.startswith("\\"):
        raise UnsafeFigurePath(f"absolute path {raw!r} (figure paths are relative to the run folder)")
    if ".." in posix.parts or ".." in windows.parts:
        raise UnsafeFigurePath(f"{raw!r} climbs out with '..'")
    if posix.parts[0] != FIGURES_DIR or len(posix.parts) < 2:
        raise UnsafeFigurePath(f"{raw!r} is not under {FIGURES_DIR}/")
    root = Path(run_dir).resolve()
    path = (root / posix).resolve()  # follows links: one pointing elsewhere is refused below
    if not path.is_relative_to(root / FIGURES_DIR):
        raise UnsafeFigurePath(f"{raw!r} resolves outside the run's {FIGURES_DIR}/ folder")
    return path
