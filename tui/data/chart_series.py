"""Every plottable series of a run under one flat name, the charts a view may show, and the x axes.

Flat names: scalar keys as logged (`loss/ce`, `lr/backbone`, `grad_norm`, `model/temperature`), system
gauges as `system/<key>`, evaluations as `eval/<split>/<metric>`. A chart is a flat name (one line) or a
group: `loss` (every loss/… component), `lr` (every parameter group), `eval/*/<metric>` (the metric on
every test set), `<prefix>/*` (every series a model reports under its own prefix: `routing/*`).

Series are grouped by the prefix before their first `/`: loss, lr, eval and system are the trainer's; any
other prefix (a model's `routing/…`, a script's `aux/…`) is a group of its own; names without one are
`training` scalars (grad_norm).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tui.data.run_snapshot import EvalPoint

Series = tuple[np.ndarray, np.ndarray]

DEFAULT_CHARTS = ("loss", "lr", "grad_norm")
"""What the monitor shows until the researcher picks: total loss with its components, LR, grad norm."""
MODEL_DEFAULT_CHARTS = ("routing/entropy",)
"""A model's own diagnostics shown after the defaults when the run logs them (pce's router entropy)."""
REDUNDANT_CONTROL_MARKERS = ("eval", "pause", "resume", "checkpoint")
"""Applied commands whose own events (eval, status, checkpoint) mark the step already."""
X_AXES = ("step", "epoch", "time")
"""What the x axis can count, in the order `a` cycles through."""


def flat_series(
    scalars: Mapping[str, Series],
    system: Mapping[str, Series] | None = None,
    evals: Mapping[str, Iterable[EvalPoint]] | None = None,
) -> dict[str, Series]:
    """Every series of a run under its flat name (evaluations as `eval/<split>/<metric>` over steps)."""
    out: dict[str, Series] = dict(scalars)
    for key, series in (system or {}).items():
        out[f"system/{key}"] = series
    for split, points in (evals or {}).items():
        per_metric: dict[str, tuple[list[float], list[float]]] = {}
        for point in points:
            if point.step is None:
                continue
            for metric, value in point.metrics.items():
                xs, ys = per_metric.setdefault(metric, ([], []))
                xs.append(float(point.step))
                ys.append(float(value))
        for metric, (xs, ys) in per_metric.items():
            out[f"eval/{split}/{metric}"] = (np.asarray(xs), np.asarray(ys))
    return out


def default_charts(scalar_names: Iterable[str]) -> list[str]:
    """DEFAULT_CHARTS, then each of MODEL_DEFAULT_CHARTS the run logs."""
    names = set(scalar_names)
    return [*DEFAULT_CHARTS, *(chart for chart in MODEL_DEFAULT_CHARTS if chart in names)]


TRAINER_GROUPS = ("loss", "lr", "eval", "system")
"""Prefixes the trainer and the console give meaning to; any other prefix is a model's own group."""
UNGROUPED = "training"
"""The group of scalars without a prefix (grad_norm, temperature)."""


def series_group(name: str) -> str:
    """The picker group of a flat name: its prefix before the first `/` (`routing` of `routing/entropy`),
    `training` without one."""
    prefix, slash, _ = name.partition("/")
    return prefix if slash and prefix else UNGROUPED


def chart_keys(chart: str, names: Iterable[str]) -> list[str]:
    """The flat names a chart draws, in legend order (the total loss first)."""
    names = list(names)
    if chart == "loss":
        return sorted((n for n in names if n.startswith("loss/")), key=lambda n: (n != "loss/total", n))
    if chart == "lr":
        return sorted(n for n in names if n.startswith("lr/"))
    if chart.startswith("eval/*/"):
        metric = chart[len("eval/*/") :]
        return [n for n in names if n.startswith("eval/") and n.split("/", 2)[2:] == [metric]]
    if chart.endswith("/*") and chart.count("/") == 1:
        group = chart[:-2]
        return sorted(n for n in names if series_group(n) == group and group not in TRAINER_GROUPS)
    return [chart] if chart in names else []


def line_label(chart: str, key: str) -> str:
    """A line's name in its chart's legend: the part that tells it from the chart's other lines."""
    if chart == key:
        return ""  # the chart's title names its only line
    if chart in ("loss", "lr") or chart.endswith("/*"):
        return key.split("/", 1)[1]
    if chart.startswith("eval/*/"):
        return key.split("/")[1]
    return key.rsplit("/", 1)[-1]


def chart_title(chart: str) -> str:
    """'loss', 'lr', 'R@1 · every test set', 'R@1 tokyo247', 'gpu_mem_alloc_mb'."""
    if chart.startswith("eval/*/"):
        return chart[len("eval/*/") :]
    if chart.startswith("eval/"):
        _, split, metric = chart.split("/", 2)
        return f"{metric} {split}"
    if chart.startswith("system/"):
        return chart[len("system/") :]
    if chart.endswith("/*"):
        return chart[:-2]
    return chart.replace("_", " ") if chart == "grad_norm" else chart


@dataclass(frozen=True)
class Choice:
    """One entry of the chart picker."""

    group: str
    chart: str
    label: str


def chart_choices(names: Iterable[str]) -> list[Choice]:
    """Every chart a run can show, grouped: loss, learning rate, training scalars, each model-reported group
    (alphabetically; with more than one series, first a chart of them all), eval, system."""
    names = sorted(set(names))
    choices: list[Choice] = []
    losses = [n for n in names if n.startswith("loss/")]
    if losses:
        choices.append(Choice("loss", "loss", f"loss — all {len(losses)} components"))
        choices += [Choice("loss", n, n) for n in losses]
    lrs = [n for n in names if n.startswith("lr/")]
    if lrs:
        choices.append(Choice("lr", "lr", f"lr — all {len(lrs)} groups"))
        choices += [Choice("lr", n, n) for n in lrs] if len(lrs) > 1 else []
    choices += [Choice(UNGROUPED, n, n) for n in names if series_group(n) == UNGROUPED]
    own = [n for n in names if series_group(n) not in (*TRAINER_GROUPS, UNGROUPED)]
    for group in dict.fromkeys(series_group(n) for n in own):
        members = [n for n in own if series_group(n) == group]
        if len(members) > 1:
            choices.append(Choice(group, f"{group}/*", f"{group} — all {len(members)} series"))
        choices += [Choice(group, n, n) for n in members]
    evals = [n for n in names if n.startswith("eval/")]
    metrics = list(dict.fromkeys(n.split("/", 2)[2] for n in evals))
    for metric in metrics:
        if sum(n.split("/", 2)[2] == metric for n in evals) > 1:
            choices.append(Choice("eval", f"eval/*/{metric}", f"{metric} — every test set"))
        choices += [Choice("eval", n, n) for n in evals if n.split("/", 2)[2] == metric]
    choices += [Choice("system", n, n) for n in names if n.startswith("system/")]
    return choices


# -- x axes -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XAxis:
    """How steps become x positions: steps themselves, epochs, or seconds since the run started."""

    name: str
    epochs_per_step: float | None = None
    clock: Series | None = None
    """(steps, seconds since start) pairs the engine's timestamps give; time is interpolated between them."""

    def of(self, steps: np.ndarray) -> np.ndarray:
        """x positions of `steps`."""
        steps = np.asarray(steps, dtype=float)
        if self.name == "epoch" and self.epochs_per_step:
            return steps * self.epochs_per_step
        if self.name == "time" and self.clock is not None and len(self.clock[0]):
            return np.interp(steps, self.clock[0], self.clock[1])
        return steps

    def fmt(self, x: float) -> str:
        """A tick label: 12k (steps), 3.5 (epochs), 1h05 (time)."""
        if self.name == "epoch":
            return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"
        if self.name == "time":
            return fmt_duration(x)
        return fmt_steps(x)

    def unit(self) -> str:
        """What the axis counts, for readouts: 'step', 'epoch', 'time'."""
        return self.name


def fmt_steps(x: float) -> str:
    """Axis label for a step count: 950, 12k, 1.5M."""
    if abs(x) >= 1e6:
        return f"{x / 1e6:.3g}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.0f}k"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.3g}k"
    return f"{x:.0f}"


def fmt_duration(seconds: float) -> str:
    """45s, 12m, 1h05, 2d3h."""
    s = max(0.0, float(seconds))
    if s < 60:
        return f"{int(s)}s"
    if s < 3600:
        return f"{int(s // 60)}m"
    if s < 86400:
        return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}"
    return f"{int(s // 86400)}d{int(s % 86400 // 3600)}h"


def epochs_per_step(info: Mapping[str, Any]) -> float | None:
    """run.json progress.epoch / progress.step (the engine's fractional epoch), None when unknown."""
    progress = info.get("progress")
    if not isinstance(progress, dict):
        return None
    epoch, step = progress.get("epoch"), progress.get("step")
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not isinstance(step, int):
        return None
    return float(epoch) / step if step > 0 and epoch > 0 and np.isfinite(epoch) else None


def run_clock(info: Mapping[str, Any], stamps: Iterable[tuple[float, float]]) -> Series | None:
    """(steps, seconds since the start) from (step, t) stamps and run.json's start; None with fewer than two."""
    started = info.get("started") or info.get("created")
    pairs = sorted((float(s), float(t)) for s, t in stamps)
    if isinstance(started, (int, float)) and not isinstance(started, bool):
        pairs.insert(0, (0.0, float(started)))
    if len(pairs) < 2:
        return None
    steps = np.array([p[0] for p in pairs])
    times = np.maximum.accumulate(np.array([p[1] for p in pairs]))
    return steps, times - times[0]


def x_axis(name: str, info: Mapping[str, Any], clock: Series | None) -> XAxis:
    """The axis `name` for a run (falls back to steps when the run cannot tell epochs or times)."""
    per_step = epochs_per_step(info)
    if name == "epoch" and per_step:
        return XAxis("epoch", epochs_per_step=per_step)
    if name == "time" and clock is not None:
        return XAxis("time", clock=clock)
    return XAxis("step")


def nearest_at_or_before(x: np.ndarray, at: float) -> int | None:
    """Index of the last point with x ≤ `at` (the first point when `at` is before them all)."""
    if not len(x):
        return None
    i = int(np.searchsorted(x, at, side="right")) - 1
    return max(0, i)
