"""Run folders: id rules, paths inside a run, creating a run, and atomic JSON files."""

from __future__ import annotations

import errno
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core.errors import UserError

RUN_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
"""What a run id may contain: it becomes a folder name, so nothing that could climb out of runs/."""

RUNS_ENV = "LABCONSOLE_RUNS"
"""Environment variable that overrides the default runs directory."""

_SLUG_BAD = re.compile(r"[^a-z0-9._-]+")
_SLUG_MAX = 40
_MAX_COLLISIONS = 10_000


def validate_run_id(run_id: str) -> str:
    """Return `run_id` unchanged, or raise UserError when it is not a safe folder name."""
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id) or run_id.startswith("."):
        # '.' and '..' match the character class but name the runs dir itself or its parent;
        # a leading '.' would also hide the run from `ls` and collide with our temp files.
        raise UserError(f"bad run id '{run_id}': use only letters, digits, '.', '_' and '-'")
    return run_id


def _slug(name: str) -> str:
    """Lowercase `name`, replace anything outside [a-z0-9._-] by '-', keep at most 40 chars."""
    slug = _SLUG_BAD.sub("-", name.lower())[:_SLUG_MAX]
    return slug.strip("-.")


def new_run_id(name: str | None = None, now: float | None = None) -> str:
    """A fresh id `YYYYmmdd-HHMMSS[-slug]` in local time, so ids sort by creation."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    slug = _slug(name) if name else ""
    return f"{stamp}-{slug}" if slug else stamp


def resolve_runs_dir(arg: str | os.PathLike[str] | None = None) -> Path:
    """The runs directory as an absolute path: `arg`, else $LABCONSOLE_RUNS, else ./runs."""
    chosen = arg if arg not in (None, "") else os.environ.get(RUNS_ENV) or "runs"
    return Path(chosen).expanduser().absolute()


@dataclass(frozen=True)
class RunPaths:
    """The files of one run folder (see DESIGN.md, "Run directory")."""

    root: Path
    """The run folder itself; its name is the run id."""

    @classmethod
    def of(cls, runs_dir: str | os.PathLike[str], run_id: str) -> RunPaths:
        """Paths of run `run_id` under `runs_dir`; raises UserError for an unsafe id."""
        return cls(Path(runs_dir) / validate_run_id(run_id))

    @property
    def run_id(self) -> str:
        """The run id (the folder name)."""
        return self.root.name

    @property
    def config(self) -> Path:
        """Fully resolved config, written before training starts."""
        return self.root / "config.yaml"

    @property
    def run_json(self) -> Path:
        """Summary and status, always rewritten atomically."""
        return self.root / "run.json"

    @property
    def events(self) -> Path:
        """Append-only JSONL event stream written by the engine."""
        return self.root / "events.jsonl"

    @property
    def control(self) -> Path:
        """Append-only JSONL commands written by the console and CLI."""
        return self.root / "control.jsonl"

    @property
    def output_log(self) -> Path:
        """Engine stdout and stderr."""
        return self.root / "output.log"

    @property
    def checkpoints(self) -> Path:
        """Folder holding last.pt and best.pt."""
        return self.root / "checkpoints"


def create_run(runs_dir: str | os.PathLike[str], name: str | None = None) -> RunPaths:
    """Make a new, empty run folder (plus checkpoints/) under `runs_dir` and return its paths.

    Raises:
        UserError: the runs folder cannot be created or written (naming the folder and the cause).
    """
    runs = Path(runs_dir)
    try:
        runs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise folder_error("cannot create the runs folder", runs, exc) from None
    base = new_run_id(name)
    for n in range(1, _MAX_COLLISIONS):
        run_id = base if n == 1 else f"{base}-{n}"
        try:
            # Exclusive mkdir is the lock: two launches in the same second never share a folder.
            os.mkdir(runs / run_id)
        except FileExistsError:
            continue
        except OSError as exc:
            raise folder_error("cannot create a run folder in", runs, exc) from None
        paths = RunPaths(runs / run_id)
        try:
            paths.checkpoints.mkdir()
        except OSError as exc:
            raise folder_error("cannot write the run folder", paths.root, exc) from None
        return paths
    raise UserError(f"cannot create a run folder for '{base}' in {runs}: too many runs with that id")


_CAUSES = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EIO: "input/output error (a failing disk or network file system)",
}
"""What an OSError means for the user, by errno; the others keep the system's own words."""


def folder_error(doing: str, folder: Path, exc: OSError, needed: str | None = None) -> UserError:
    """One line for a disk fault: what could not be done, to which folder, why, and what is needed instead.

    e.g. "cannot create the runs folder /data/x/runs: /data/x is a file, not a folder; --runs-dir
    (or $LABCONSOLE_RUNS) must name a folder you can write".
    """
    return UserError(f"{doing} {folder}: {disk_fault_cause(folder, exc)}; {needed or RUNS_DIR_NEEDED}")


RUNS_DIR_NEEDED = f"--runs-dir (or ${RUNS_ENV}) must name a folder you can write"
"""What a runs folder must be, said after each disk fault in it."""


def disk_fault_cause(path: Path, exc: OSError) -> str:
    """The cause of an OSError on `path` in a few words, naming the file that is in the way when there is one."""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        blocker = _file_in_the_way(path)
        if blocker is not None:
            return f"{blocker} is a file, not a folder"
    return _CAUSES.get(exc.errno or 0) or exc.strerror or str(exc)


def _file_in_the_way(path: Path) -> Path | None:
    """The first of `path` and its parents that exists but is not a folder."""
    for candidate in [path, *path.parents]:
        try:
            if candidate.exists():
                return None if candidate.is_dir() else candidate
        except OSError:
            continue
    return None


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as JSON so that readers see either the old file or the new one, never a part."""
    target = Path(path)
    # Same directory, so os.replace is a rename within one filesystem (atomic on POSIX and Windows);
    # a unique name so concurrent writers never share a temp file.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}.tmp")
    data = json.dumps(obj, indent=2).encode() + b"\n"
    # os.open with 0o666 lets the umask decide permissions (mkstemp would force 0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
        # No fsync: run.json is rewritten often and a power cut losing the last update is acceptable.
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The JSON object stored at `path`, or None when it is missing, unreadable or not an object."""
    try:
        with open(path, "rb") as f:
            obj = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None
