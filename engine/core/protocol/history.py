"""A small SQLite index of the runs folder's run.json files, so that 10,000 runs list in well under a second.

The folders stay the truth: a row is reused only while its run.json has the (mtime, size) it was read at, rows
of vanished folders are dropped, and a missing, foreign or corrupt index file is rebuilt from the folders. The
index lives next to the runs (`<runs>/.labconsole-index.sqlite`, so a copied or shared runs folder brings it),
else in the user's cache folder when the runs folder is read-only; any SQLite failure falls back to reading
the folders. Only run.json is indexed: it holds everything a listing shows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.core.protocol.runinfo import headline

INDEX_NAME = ".labconsole-index.sqlite"
SCHEMA_VERSION = 4
"""Bumped when the rows' meaning changes: an index of another version is rebuilt (4: summaries carry "sweep")."""
Stamp = tuple[int, int]
"""(mtime_ns, size) of a run.json."""
_Row = tuple[Stamp, str, str]
"""A run's stamp, its listing summary and its whole run.json, as JSON text."""
LISTED_FIELDS = (
    "name", "status", "task", "tags", "progress", "created", "started", "ended", "pid", "host", "error",
    "damage", "main_metric", "slurm_job_id", "archived", "sweep",
)  # fmt: skip
"""What a listing reads of a run.json (besides its headline metric)."""


def listing_summary(info: dict[str, Any]) -> dict[str, Any]:
    """The fields a listing shows, with "best" and "final" cut to the headline metric (a tenth of the size)."""
    summary = {key: info[key] for key in LISTED_FIELDS if key in info}
    for block in ("best", "final"):
        found = headline({"best": info.get(block), "main_metric": info.get("main_metric")})
        if found is not None:
            summary[block] = {found[0]: {found[1]: found[2]}}
        elif isinstance(info.get(block), dict) and info[block]:
            summary[block] = {"": {}}  # evaluated, without a number to show
    return summary


def run_json_stamp(folder: str | os.PathLike[str]) -> Stamp | None:
    """The stamp of a folder's run.json (None when it has none)."""
    try:
        st = os.stat(os.path.join(folder, "run.json"))
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class HistoryIndex:
    """run id → (stamp, checked run.json) kept in SQLite; `get`/`put` never raise (a broken index is bypassed)."""

    def __init__(self, runs_dir: str | os.PathLike[str], path: Path | None = None) -> None:
        self.runs_dir = Path(runs_dir)
        self.path = path if path is not None else index_path(self.runs_dir)
        self._rows: dict[str, _Row] | None = None
        self._changed: dict[str, _Row] = {}

    def get(self, run_id: str, stamp: Stamp, whole: bool = True) -> dict[str, Any] | None:
        """The run.json stored for `run_id` when it was read at `stamp` (`whole`, else its listing summary:
        see `listing_summary`); None otherwise."""
        row = self._load().get(run_id)
        if row is None or row[0] != stamp:
            return None
        try:
            info = json.loads(row[2] if whole else row[1])
        except ValueError:
            return None
        return info if isinstance(info, dict) else None

    def put(self, run_id: str, stamp: Stamp, info: dict[str, Any]) -> None:
        """Remember a freshly read run.json (written by `save`)."""
        whole = json.dumps(info, ensure_ascii=False, default=str)
        summary = json.dumps(listing_summary(info), ensure_ascii=False, default=str)
        self._load()[run_id] = self._changed[run_id] = (stamp, summary, whole)

    def save(self, keep: set[str] | None = None) -> None:
        """Write the new rows, and drop the rows of runs not in `keep` (the folders that exist)."""
        rows = self._load()
        gone = set(rows) - keep if keep is not None else set()
        if not self._changed and not gone:
            return
        try:
            with self._connect() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO runs (id, mtime_ns, size, summary, info) VALUES (?, ?, ?, ?, ?)",
                    [
                        (rid, st[0], st[1], summary, whole)
                        for rid, (st, summary, whole) in self._changed.items()
                    ],
                )
                db.executemany("DELETE FROM runs WHERE id = ?", [(rid,) for rid in gone])
        except (sqlite3.Error, OSError):
            return  # the next listing reads the folders again; nothing is lost
        for rid in gone:
            rows.pop(rid, None)
        self._changed.clear()

    def _load(self) -> dict[str, _Row]:
        if self._rows is None:
            self._rows = {}
            try:
                with self._connect() as db:
                    query = "SELECT id, mtime_ns, size, summary, info FROM runs"
                    for rid, mtime, size, summary, whole in db.execute(query):
                        self._rows[rid] = ((mtime, size), summary, whole)
            except (sqlite3.Error, OSError):
                self._rebuild()
        return self._rows

    def _rebuild(self) -> None:
        """A corrupt or foreign file: start again from the folders (the next save writes a fresh index)."""
        if self.path is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self.path is None:
            raise sqlite3.OperationalError("no place for the index")
        db = sqlite3.connect(self.path, timeout=2.0)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                db.execute("DROP TABLE IF EXISTS runs")
                db.execute(
                    "CREATE TABLE runs (id TEXT PRIMARY KEY, mtime_ns INTEGER, size INTEGER, "
                    "summary TEXT NOT NULL, info TEXT NOT NULL)"
                )
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            with db:  # one transaction
                yield db
        finally:
            db.close()


def index_path(runs_dir: Path) -> Path | None:
    """`<runs>/.labconsole-index.sqlite` when the runs folder is writable, else one in the user's cache folder."""
    if os.access(runs_dir, os.W_OK):
        return runs_dir / INDEX_NAME
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha1(str(runs_dir.absolute()).encode()).hexdigest()[:16]
    folder = home / "labconsole" / "history"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder / f"{digest}.sqlite"
