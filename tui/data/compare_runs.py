"""What the compare screen shows, torch-free: runs read from their folders, metric rows, config diff."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from engine.core.protocol import RunPaths, headline, read_json, train_seconds
from engine.core.protocol.fingerprints import differences
from engine.core.protocol.fingerprints import summary as fingerprint_summary
from tui.cli.compare_cmd import comparison_rows
from tui.data.chart_series import REDUNDANT_CONTROL_MARKERS
from tui.data.epoch_summary import EpochSummary, LossChange, epoch_summary, fmt_change, fmt_loss
from tui.data.oscillation import loss_key, reading
from tui.data.run_events import Chunk, read_events
from tui.data.run_snapshot import TRAIN_THROUGHPUT_KEY, Marker, mark_timeline, train_throughput

MISSING = object()
"""A config key the run does not have."""

Series = tuple[np.ndarray, np.ndarray]


@dataclass
class CompareRun:
    """One run as the compare screen needs it: summary, flattened config, curves and system figures."""

    dir: Path
    info: dict[str, Any]
    config: dict[str, Any]
    """config.yaml flattened to dotted keys."""
    scalars: dict[str, Series] = field(default_factory=dict)
    """Every scalar key (loss/…, lr/…, grad_norm, model scalars) over step."""
    system: dict[str, Series] = field(default_factory=dict)
    """System gauges over step."""
    evals: dict[tuple[str, str], Series] = field(default_factory=dict)
    """(split, metric) → values over step."""
    markers: list[Marker] = field(default_factory=list)
    """Steps where a mid-run change was applied, evaluations, pauses and resumes."""
    clock_stamps: list[tuple[float, float]] = field(default_factory=list)
    """(step, t) of the events that carry both: the time axis interpolates them."""
    steered: dict[str, list[tuple[float, Any]]] = field(default_factory=dict)
    """Keys set mid-run → (step, value) in the order applied."""
    img_per_s: float | None = None
    """Training images per training second over the whole run (see `training_throughput`)."""
    peak_mem_mb: float | None = None
    """Max GPU peak memory, else max host RSS."""

    @property
    def id(self) -> str:
        """The run id (the folder name)."""
        return self.dir.name

    @property
    def name(self) -> str:
        """The run's name (its id when unnamed)."""
        return str(self.info.get("name") or self.id)

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        """Final metrics, else the best seen (a stopped or running run has no final)."""
        return self.info.get("final") or self.info.get("best") or {}

    @property
    def train_seconds(self) -> float | None:
        """run.json train_seconds, else ended − started."""
        return train_seconds(self.info)

    @property
    def params(self) -> int | None:
        """Parameter count when run.json records one (an int, or {"total": …})."""
        params = self.info.get("params")
        if isinstance(params, dict):
            params = params.get("total")
        return int(params) if isinstance(params, (int, float)) else None


@dataclass(frozen=True)
class MetricRow:
    """One table row: a value per run (baseline first) and deltas against the baseline."""

    label: str
    values: list[float | None]
    deltas: list[float | None]
    """None for the baseline column and for missing values."""
    better: int = 1
    """+1 higher is better, -1 lower is better, 0 neither (no bold, no colour)."""
    unit: str = "pct"
    """pct | seconds | count | rate | mb: how the cells are formatted."""
    marks: list[str | None] = field(default_factory=list)
    """Per run: what makes its value not comparable with the baseline's ("1,000 vs 740 queries"), else None."""
    texts: list[str] = field(default_factory=list)
    """A text row (a set's protocol): one text per run in place of values."""


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as {"a.b.c": value}; lists stay values."""
    if not isinstance(tree, dict):
        return {prefix: tree} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(
            flatten(value, f"{prefix}.{key}" if prefix else str(key))
            if isinstance(value, dict)
            else {f"{prefix}.{key}" if prefix else str(key): value}
        )
    return out


def load_run(run_dir: Path) -> CompareRun:
    """Read run.json, config.yaml and the events (from the engine's index when there is one)."""
    run_dir = Path(run_dir)
    paths = RunPaths(run_dir)
    run = CompareRun(run_dir, read_json(paths.run_json) or {}, flatten(_read_yaml(paths.config)))
    chunk = read_events(paths.events)[0]
    run.scalars = {key: series for (kind, key), series in chunk.series.items() if kind == "scalar"}
    run.system = {key: series for (kind, key), series in chunk.series.items() if kind == "system"}
    evals: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for event in chunk.events:
        kind, step = event.get("kind"), event.get("step")
        if not isinstance(step, (int, float)):
            continue
        t = event.get("t")
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            run.clock_stamps.append((float(step), float(t)))
        mark_timeline(run.markers, kind, float(step), event)
        if kind == "eval" and not event.get("reeval"):  # re-evaluations are rows of their own, not curves
            for metric, value in (event.get("metrics") or {}).items():
                if isinstance(value, (int, float)):
                    _append(evals, (str(event.get("split")), metric), step, value)
        elif kind == "control" and event.get("status") == "applied":
            if event.get("action") not in REDUNDANT_CONTROL_MARKERS:
                run.markers.append(Marker(step, "control", _control_label(event)))
            if event.get("action") == "set":
                for key, value in (event.get("values") or {}).items():
                    run.steered.setdefault(str(key), []).append((float(step), value))
    run.evals = {k: (np.asarray(x, float), np.asarray(y, float)) for k, (x, y) in evals.items()}
    last_steps = [float(x[-1]) for x, _ in run.scalars.values() if len(x)]
    if chunk.last_t is not None and last_steps:
        run.clock_stamps.append((max(last_steps), chunk.last_t))
    run.img_per_s = training_throughput(run.info, chunk.series.get(("system", TRAIN_THROUGHPUT_KEY)))
    memory = _finite(chunk, "gpu_mem_peak_mb")
    memory = memory if len(memory) else _finite(chunk, "rss_mb")
    run.peak_mem_mb = float(memory.max()) if len(memory) else None
    return run


def training_throughput(info: dict[str, Any], readings: Series | None) -> float | None:
    """Images per training second: progress.step × global_batch / train_seconds from run.json (the engine
    counts only training windows in train_seconds), else the step-weighted throughput readings of all windows
    (the monitor's definition over the whole run). Evaluation time is in neither."""
    progress = info.get("progress")
    step = _number(progress.get("step")) if isinstance(progress, dict) else None
    batch, seconds = _number(info.get("global_batch")), _number(info.get("train_seconds"))
    if step is not None and batch is not None and seconds:
        return step * batch / seconds
    return train_throughput(*readings, windows=None) if readings is not None else None


def _number(value: Any) -> float | None:
    """A run.json number as a float; None for a bool, text or a missing value."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _finite(chunk: Chunk, key: str) -> np.ndarray:
    """The finite values of a system series (empty when the run never logged it)."""
    values = chunk.series.get(("system", key), (None, np.zeros(0)))[1]
    return values[np.isfinite(values)]


def _read_yaml(path: Path) -> Any:
    """A YAML file's content, or {} when missing or unreadable."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _append(series: dict[Any, tuple[list[float], list[float]]], key: Any, step: float, value: float) -> None:
    """Add one point to a series kept as two lists."""
    xs, ys = series.setdefault(key, ([], []))
    xs.append(float(step))
    ys.append(float(value))


def _control_label(event: dict[str, Any]) -> str:
    """'optim.lr=5e-05' for a set, else the action."""
    values = event.get("values") or {}
    if event.get("action") == "set" and values:
        return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
    return str(event.get("action", "control"))


# -- the metric table --------------------------------------------------------------------------------


def ordered(runs: list[CompareRun], baseline: int) -> list[CompareRun]:
    """The runs with the baseline first, the others in their order."""
    return [runs[baseline]] + [r for i, r in enumerate(runs) if i != baseline]


def eval_rows(runs: list[CompareRun]) -> list[dict[str, Any]]:
    """tui.cli.compare_cmd rows (baseline = runs[0]) over each run's final-else-best metrics."""
    return comparison_rows([(r.id, {"metrics": r.metrics}) for r in runs], "metrics")


def metric_rows(runs: list[CompareRun]) -> list[MetricRow]:
    """Eval rows, then training time, params (when recorded), img/s, peak memory, each loss first epoch → last
    and the loss trend; runs[0] is the baseline."""
    rows = [
        MetricRow(
            f"{r['split']} {r['metric']}",
            r["values"],
            [None, *r["deltas"]],
            marks=protocol_marks(runs, r["split"]),
        )
        for r in eval_rows(runs)
    ]
    extras: tuple[tuple[str, list[float | None], int, str], ...] = (
        ("train time", [r.train_seconds for r in runs], 0, "seconds"),
        ("params", [r.params for r in runs], 0, "count"),
        ("img/s", [r.img_per_s for r in runs], 1, "rate"),
        ("peak memory", [r.peak_mem_mb for r in runs], -1, "mb"),
    )
    for label, values, better, unit in extras:
        if any(v is not None for v in values):
            rows.append(MetricRow(label, values, _deltas(values), better, unit))
    trend = loss_trend_row(runs)
    return rows + loss_change_rows(runs) + ([trend] if trend is not None else [])


def loss_trend(run: CompareRun) -> str | None:
    """How the run's loss (its total, else its first) ended: improving, plateau, noisy or diverging (None
    without a loss long enough to read; see tui.data.oscillation)."""
    key = loss_key(list(run.scalars))
    found = reading(*run.scalars[key]) if key is not None else None
    return found.word if found is not None else None


def loss_trend_row(runs: list[CompareRun]) -> MetricRow | None:
    """A text row 'loss trend' (None when no run has a reading): is each run still learning or only noisy?"""
    words = [loss_trend(run) for run in runs]
    if not any(words):
        return None
    none: list[float | None] = [None] * len(runs)
    return MetricRow("loss trend", none, list(none), 0, "text", texts=[w or "-" for w in words])


MAX_LOSS_ROWS = 5
"""Loss rows compare shows at most: the total and the first components (YOLOX logs four)."""


def loss_change_rows(runs: list[CompareRun]) -> list[MetricRow]:
    """Text rows 'loss/<name> epoch 1 → N': per run the change in percent of the loss's mean from its first epoch
    to its last, then both means (tui.data.epoch_summary); the changes are the row's values. When the runs read
    different epochs, a 'loss epochs' row first says which each read. None when no run logged a loss."""
    summaries = [epoch_summary(run.scalars, run.info) for run in runs]
    found_any = [found for found in summaries if found]
    keys = list(dict.fromkeys(loss.key for found in found_any for loss in found.losses))
    keys = sorted(keys, key=lambda key: key != "loss/total")[:MAX_LOSS_ROWS]
    none: list[float | None] = [None] * len(runs)
    rows = []
    if len({found.span for found in found_any}) > 1:
        spans = [found.short_span if found else "-" for found in summaries]
        rows.append(MetricRow("loss epochs", list(none), list(none), 0, "text", texts=spans))
    for key in keys:
        changes = [found.change(key) if found else None for found in summaries]
        texts = ["-" if change is None else change_text(change) for change in changes]
        values: list[float | None] = [change.change_pct if change else None for change in changes]
        rows.append(MetricRow(f"{key} {_span_label(found_any)}", values, list(none), 0, "text", texts=texts))
    return rows


def _span_label(summaries: list[EpochSummary]) -> str:
    """What the runs' loss rows compare: 'epoch 1 → 30' when they all read the same epochs, 'epoch 1 → last'
    when they end at different ones, else 'first → last' (some read by shares of their points)."""
    spans = {found.span for found in summaries}
    if len(spans) == 1:
        return spans.pop()
    firsts = {found.first_epoch for found in summaries}
    if len(firsts) == 1 and None not in firsts:
        return f"epoch {firsts.pop()} → last"
    return "first → last"


def change_text(change: LossChange) -> str:
    """'-28.3% (6.99 → 5.01)': the change first, what a narrow column keeps."""
    return f"{fmt_change(change.change_pct)} ({fmt_loss(change.first)} → {fmt_loss(change.last)})"


def fingerprints_of(runs: list[CompareRun], split: str) -> list[dict[str, Any] | None]:
    """Each run's fingerprint of `split` (run.json `fingerprints`; None when it recorded none)."""
    found = []
    for run in runs:
        table = run.info.get("fingerprints")
        fingerprint = table.get(split) if isinstance(table, dict) else None
        found.append(fingerprint if isinstance(fingerprint, dict) else None)
    return found


def protocol_marks(runs: list[CompareRun], split: str) -> list[str | None]:
    """Per run, how its measurement of `split` differs from the baseline's (None for the baseline, for runs that
    agree and for runs without a fingerprint)."""
    fingerprints = fingerprints_of(runs, split)
    marks: list[str | None] = [None]
    for fingerprint in fingerprints[1:]:
        changed = differences(fingerprints[0], fingerprint)
        marks.append(", ".join(changed) if changed else None)
    return marks


def protocol_rows(runs: list[CompareRun]) -> list[MetricRow]:
    """A text row per evaluated set saying how each run measured it (its fingerprint in short)."""
    splits = dict.fromkeys(split for run in runs for split in (run.info.get("fingerprints") or {}))
    rows = []
    for split in splits:
        fingerprints = fingerprints_of(runs, split)
        if any(fingerprints):
            texts = [fingerprint_summary(fp) for fp in fingerprints]
            rows.append(MetricRow(f"{split} protocol", [None] * len(runs), [None] * len(runs), 0, "text",
                                  marks=protocol_marks(runs, split), texts=texts))  # fmt: skip
    return rows


def _deltas(values: list[Any]) -> list[float | None]:
    """Each value minus the first (None where either is missing; None for the first)."""
    base = values[0]
    deltas: list[float | None] = [None]
    return deltas + [None if v is None or base is None else v - base for v in values[1:]]


def best_index(row: MetricRow) -> set[int]:
    """Columns holding the row's best value (none without a direction, with < 2 values, or all equal)."""
    present = [(i, v) for i, v in enumerate(row.values) if v is not None]
    if row.better == 0 or len(present) < 2 or len({v for _, v in present}) == 1:
        return set()
    best = max(v * row.better for _, v in present)
    return {i for i, v in present if v * row.better == best}


# -- the config diff ---------------------------------------------------------------------------------


def config_diff(runs: list[CompareRun]) -> list[tuple[str, list[Any]]]:
    """(dotted key, value per run or MISSING) for every key whose values are not all equal."""
    keys = list(dict.fromkeys(k for r in runs for k in r.config))
    out = []
    for key in keys:
        values = [r.config.get(key, MISSING) for r in runs]
        if any(_canon(v) != _canon(values[0]) for v in values[1:]):
            out.append((key, values))
    for key in dict.fromkeys(
        k for r in runs for k in r.steered
    ):  # the run's real history, not only its config
        values = [fmt_steered(r.steered[key]) if key in r.steered else MISSING for r in runs]
        if any(_canon(v) != _canon(values[0]) for v in values[1:]):
            out.append((f"{key} (set mid-run)", values))
    return out


def fmt_steered(changes: list[tuple[float, Any]]) -> str:
    """'0.0001 @120 → 5e-05 @300': each value a run was steered to, with the step it took effect."""
    return " → ".join(f"{fmt_config_value(value)} @{step:g}" for step, value in changes)


def _canon(value: Any) -> str:
    """A comparable form of a config value (lists and mappings by content)."""
    return "\0missing" if value is MISSING else json.dumps(value, sort_keys=True, default=str)


def fmt_config_value(value: Any) -> str:
    """A config value in one short line: 0.0001, true, [1, 5, 10], — when missing."""
    if value is MISSING:
        return "—"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(", ", ": "), default=str)
    return str(value)


# -- curves ------------------------------------------------------------------------------------------


def lr_key(runs: list[CompareRun]) -> str | None:
    """The lr/… key most runs have (ties: alphabetical)."""
    counts = Counter(k for r in runs for k in r.scalars if k.startswith("lr/"))
    return min(counts, key=lambda k: (-counts[k], k)) if counts else None


def main_eval(runs: list[CompareRun]) -> tuple[str, str] | None:
    """(split, metric) the curves chart shows: the baseline's main metric (as its engine published it) on its
    first test split; a run without results yet gives way to the next."""
    for run in runs:
        found = headline(run.info)
        if found is not None:
            return found[0], found[1]
        if run.evals:
            return next(iter(run.evals))
    return None
