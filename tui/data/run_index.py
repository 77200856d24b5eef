"""Torch-free, mtime-cached index of a runs directory: one `RunRow` of table columns per run folder."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.protocol import RunPaths, headline, load_run_info, run_folders
from engine.core.protocol.history import HistoryIndex
from engine.core.protocol.listing import (
    DAMAGE,
    SweepMembership,
    last_sign_of_life,
    run_status,
    sweep_membership,
)
from tui.data.config_summary import ConfigSummary, load_config_summary, model_has
from tui.data.run_notes import notes_of
from tui.data.summary_cache import SummaryCache, default_cache_path

LIVE_STATUSES = ("queued", "running")
PENDING_SAVE_EVERY_S = 5.0
"""While config.yaml files are still being parsed, the summaries parsed so far are saved this often."""
"""Statuses whose engine process may die without rewriting run.json: rechecked on every refresh."""


@dataclass(frozen=True)
class RunRow:
    """One run as the runs table sees it: raw values for sorting, formatting is the widget's job."""

    id: str
    dir: Path
    name: str
    status: str
    task: str = ""
    backbone: str = ""
    aggregator: str = ""
    loss: str = ""
    step: int | None = None
    max_steps: int | None = None
    metric_name: str = ""
    metric: float | None = None
    created: float | None = None
    started: float | None = None
    ended: float | None = None
    tags: tuple[str, ...] = ()
    error: str = ""
    host: str = ""
    damage: str = ""
    """What is wrong with the run's run.json ("" when sound); the status is then "damaged"."""
    last_seen: float | None = None
    """When the engine of a run that ended without writing `ended` last wrote (its duration stops there)."""
    best: dict[str, dict[str, float]] = field(default_factory=dict, compare=True, hash=False)
    """run.json "best": {split: {metric: value}}."""
    latest_note: str = ""
    """The text of the run's newest note ("" without notes): user text, never markup."""
    archived: bool = False
    """Hidden from the table unless the filter asks for archived runs (`is:archived`)."""
    config_values: dict[str, str] = field(default_factory=dict, compare=True, hash=False)
    """config.yaml values of the config columns the user added ({"optim.lr": "0.0001"}); a key the run's
    config lacks is absent."""
    sweep: SweepMembership | None = None
    """The sweep the run is a point of (run.json "sweep"), None outside sweeps."""

    def duration(self, now: float) -> float | None:
        """Wall time from start to end (to `now` while live); None before it starts."""
        if self.started is None:
            return None
        if self.ended is not None:
            return self.ended - self.started
        if self.status in LIVE_STATUSES:
            return now - self.started
        return None if self.last_seen is None else max(0.0, self.last_seen - self.started)

    @property
    def when(self) -> float | None:
        """The time shown as "started": the start, else the creation (queued runs)."""
        return self.started if self.started is not None else self.created


_NO_CONFIG = (-1, -1)
"""config_stamp of a run folder without a config.yaml (yet)."""


@dataclass
class _Cached:
    """What the index remembers about one run folder between refreshes."""

    info_stamp: tuple[int, int] = (0, 0)
    info: dict[str, Any] = field(default_factory=dict)
    config_stamp: tuple[int, int] = (0, 0)
    config: ConfigSummary = field(default_factory=ConfigSummary)
    config_values: dict[str, str] = field(default_factory=dict)
    config_values_of: tuple[tuple[int, int], tuple[str, ...]] = ((0, 0), ())
    """(config_stamp, keys) `config_values` were read for: read again when either changes."""
    row: RunRow | None = None


@dataclass(frozen=True)
class IndexUpdate:
    """The result of one refresh: every row, plus which ids changed or vanished since the last one."""

    rows: dict[str, RunRow]
    changed: frozenset[str]
    removed: frozenset[str]
    pending: int = 0
    """config.yaml files left unread for lack of time (the next refresh continues)."""

    @property
    def any(self) -> bool:
        """Whether anything differs from the previous refresh."""
        return bool(self.changed or self.removed)


class RunIndex:
    """Lists a runs directory, re-reading only the run.json / config.yaml files whose mtime or size changed."""

    def __init__(self, runs_dir: Path, summaries: SummaryCache | None = None) -> None:
        self.runs_dir = Path(runs_dir)
        self._summaries = (
            summaries if summaries is not None else SummaryCache(default_cache_path(self.runs_dir))
        )
        self._cache: dict[str, _Cached] = {}
        self._history = HistoryIndex(self.runs_dir)
        self._saved_at = 0.0
        self._deadline = float("inf")
        self._pending = 0
        self.config_keys: tuple[str, ...] = ()
        """Dotted config.yaml keys whose values each row carries (the config columns); set from the UI
        thread, read by the next refresh."""

    def refresh(self, config_budget: float | None = None, full: bool = True) -> IndexUpdate:
        """Scan the runs directory once; cheap when nothing changed (one stat per run).

        Args:
            config_budget: Seconds to spend parsing config.yaml files; the rest wait for the next call
                (`IndexUpdate.pending`), so a first listing of thousands of runs shows up at once.
            full: Whether to stat every run; without it, only new folders and live runs are looked at (what
                changes by itself) — a finished run's files change only when someone acts on them.
        """
        self._deadline = time.perf_counter() + config_budget if config_budget is not None else float("inf")
        self._pending = 0
        seen: set[str] = set()
        changed: set[str] = set()
        for entry in self._folders():
            seen.add(entry.name)
            if not full and self._settled(entry.name):
                continue
            if self._refresh_one(entry.name, entry.path):
                changed.add(entry.name)
        removed = frozenset(set(self._cache) - seen)
        for run_id in removed:
            del self._cache[run_id]
        rows = {run_id: c.row for run_id, c in self._cache.items() if c.row is not None}
        if not self._pending or time.monotonic() - self._saved_at >= PENDING_SAVE_EVERY_S:
            self._summaries.save(
                keep=seen
            )  # while configs are still parsed too: a console closed early keeps them
            self._saved_at = time.monotonic()
        self._history.save(keep=seen if full else None)
        return IndexUpdate(rows, frozenset(changed), removed, self._pending)

    def _settled(self, run_id: str) -> bool:
        """A finished run whose row and config are known: nothing of it changes by itself."""
        cached = self._cache.get(run_id)
        return (
            cached is not None
            and cached.row is not None
            and cached.row.status not in LIVE_STATUSES
            and cached.config_stamp != (0, 0)
            and cached.config_values_of == (cached.config_stamp, self.config_keys)
        )

    def _folders(self) -> list[os.DirEntry[str]]:
        """Run folders (valid ids, not hidden) of the runs directory; [] while it does not exist or cannot be
        read (the console keeps running and shows what it can)."""
        try:
            return run_folders(self.runs_dir)
        except UserError:
            return []

    def _refresh_one(self, run_id: str, folder: str) -> bool:
        """Update the cached row of one folder; True when the row changed."""
        cached = self._cache.setdefault(run_id, _Cached())
        if (
            cached.row is not None
            and cached.row.status not in LIVE_STATUSES
            and cached.config_stamp == (0, 0)
            and time.perf_counter() > self._deadline
        ):
            self._pending += 1  # a finished run listed already: its config waits for the next scan's budget
            return False
        paths = RunPaths(Path(folder))
        info_stamp = _stamp(paths.run_json)
        if info_stamp is None:
            return False  # a folder being created: wait for its run.json
        info_changed = info_stamp != cached.info_stamp
        config_keys = self.config_keys
        if (
            not info_changed
            and cached.config_stamp != (0, 0)
            and cached.row is not None
            and cached.row.status not in LIVE_STATUSES
            and cached.config_values_of == (cached.config_stamp, config_keys)
        ):
            return False  # nothing on disk changed and no process to check
        if info_changed:
            info = self._history.get(run_id, info_stamp)
            if info is None:
                info = load_run_info(folder)
                if info is not None:
                    self._history.put(run_id, info_stamp, info)
            if info is not None:
                cached.info_stamp, cached.info = info_stamp, info
        if info_changed or cached.config_stamp == (0, 0):
            self._refresh_config(cached, paths.config)
        if cached.config_values_of != (cached.config_stamp, config_keys):
            self._refresh_config_values(cached, paths.config, config_keys)
        if not cached.info:
            return False
        row = build_row(run_id, Path(folder), cached.info, cached.config)
        if config_keys:
            row = replace(row, config_values=cached.config_values)
        if row.started is not None and row.ended is None and row.status not in LIVE_STATUSES:
            row = replace(row, last_seen=last_sign_of_life(folder))
        if row == cached.row:
            return False
        cached.row = row
        return True

    def _refresh_config(self, cached: _Cached, path: Path) -> None:
        """Re-read config.yaml when it changed and the parsing budget allows (it is written once per run)."""
        stamp = _stamp(path) or _NO_CONFIG
        if stamp == cached.config_stamp:
            return
        if stamp == _NO_CONFIG:
            cached.config_stamp = stamp  # checked again when run.json changes
            return
        run_id = path.parent.name
        remembered = _summary_from(self._summaries.get(run_id, stamp))
        if remembered is not None:
            cached.config_stamp, cached.config = stamp, remembered
            return
        if time.perf_counter() > self._deadline:
            self._pending += 1
            return
        cached.config_stamp = stamp
        cached.config = load_config_summary(path)
        self._summaries.put(run_id, stamp, asdict(cached.config))

    def _refresh_config_values(self, cached: _Cached, path: Path, keys: tuple[str, ...]) -> None:
        """Read the config columns' values from config.yaml (within the parsing budget, like the summary)."""
        if not keys or cached.config_stamp in ((0, 0), _NO_CONFIG):
            cached.config_values, cached.config_values_of = {}, (cached.config_stamp, keys)
            return
        if time.perf_counter() > self._deadline:
            self._pending += 1
            return
        cached.config_values = load_config_values(path, keys)
        cached.config_values_of = (cached.config_stamp, keys)


def load_config_values(path: Path, keys: tuple[str, ...]) -> dict[str, str]:
    """The values of dotted `keys` ("optim.lr") in config.yaml as short text; absent keys are left out."""
    import yaml  # lazily, as for the summary

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        config = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    values: dict[str, str] = {}
    for key in keys:
        found = _dotted(config, key)
        if found is not _ABSENT:
            values[key] = config_value_text(found)
    return values


_ABSENT = object()


def _dotted(config: Any, key: str) -> Any:
    """config["a"]["b"] for "a.b" (list items by index: "model.image_size.0"); _ABSENT when missing."""
    node = config
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _ABSENT
    return node


def config_value_text(value: Any) -> str:
    """A config value as a table cell: numbers compact (1e-04 stays short), a section by its name."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return str(value.get("name") or value.get("preset") or "{…}")
    if isinstance(value, list):
        return ",".join(config_value_text(v) for v in value)
    return str(value)


def _summary_from(data: dict[str, Any] | None) -> ConfigSummary | None:
    """A ConfigSummary from its cached dict (None when absent or of another shape)."""
    if data is None:
        return None
    try:
        return ConfigSummary(**{k: str(v) for k, v in data.items()})
    except TypeError:
        return None


def _stamp(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(mtime_ns, size) of a file, or None when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def main_metric(info: dict[str, Any]) -> tuple[str, float | None]:
    """(metric name, best value) of the run's published main metric on its first test set ("", None before any)."""
    found = headline(info)
    if found is None:
        return str(info.get("main_metric") or ""), None
    return found[1], found[2]


def build_row(run_id: str, folder: Path, info: dict[str, Any], config: ConfigSummary) -> RunRow:
    """Combine run.json (live values) and the config summary into one table row."""
    progress = info.get("progress")
    progress = progress if isinstance(progress, dict) else {}
    task = str(info.get("task") or config.task or "")
    metric_name, metric = main_metric(info)
    tags = info.get("tags")
    tags = tags if isinstance(tags, list) else []
    notes = notes_of(info)
    return RunRow(
        id=run_id,
        dir=folder,
        name=str(info.get("name") or run_id),
        status=run_status(info),
        task=task,
        backbone=config.backbone,
        aggregator=config.aggregator if model_has(info, "aggregator") else "",
        loss=config.loss,
        step=_int(progress.get("step")),
        max_steps=_int(progress.get("max_steps")),
        metric_name=metric_name,
        metric=metric,
        created=_float(info.get("created")),
        started=_float(info.get("started")),
        ended=_float(info.get("ended")),
        tags=tuple(str(t) for t in tags),
        error=str(info.get("error") or ""),
        host=str(info.get("host") or ""),
        damage=str(info.get(DAMAGE) or ""),
        best=_best(info.get("best")),
        latest_note=notes[-1]["text"] if notes else "",
        archived=info.get("archived") is True,
        sweep=sweep_membership(info),
    )


def _best(value: Any) -> dict[str, dict[str, float]]:
    """run.json "best" with malformed splits and non-numeric values dropped."""
    if not isinstance(value, dict):
        return {}
    return {
        str(split): {str(k): float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        for split, metrics in value.items()
        if isinstance(metrics, dict)
    }


def _int(value: Any) -> int | None:
    """An int field of run.json, or None when missing or malformed."""
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    """A float field of run.json, or None when missing or malformed."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
