"""How much each loss fell over a run: its mean over the first epoch against its mean over the last (numpy only).

What researchers tabulate by hand ("Epoch 1: 6.99 = 2.52 + … ; Epoch 30: 5.01 = …; Reduction: -28.3 %"): for
every `loss/*` scalar, the mean of its logged points in the first epoch and in the last complete one, and the
change in percent. The epoch of a step comes from, in order:
1. the run's `epoch` scalar when it logs one (watched scripts parse it from their output): an epoch counter
   (1, 2, … or 0, 1, …) or passes over the training set (0.37, 1.2, …: a step is in epoch ⌈passes⌉);
2. run.json's `progress` (epoch / step: the engine's passes per step);
3. run.json's `epoch_units.steps_per_epoch` (what the engine converted epoch settings with).
The last epoch is the last complete one: by passes, a run stopped 40 % into epoch 13 is read up to epoch 12; by an
epoch counter, a finished run up to the last epoch it logged, a running one up to the epoch before the current,
or the current one "so far" when that is the second. A run shorter than two epochs, or that cannot tell its
epochs, is read over the first and the last 10 % of its logged points instead (when it logged 20 at least).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tui.data.chart_series import epochs_per_step
from tui.data.oscillation import MIN_POINTS, is_loss, loss_key

Series = tuple[np.ndarray, np.ndarray]

EPOCH_KEY = "epoch"
"""The scalar a run may log its epoch under."""

SHARE = 0.1
"""Share of the logged points each end is read over when the run cannot be read by epochs."""

SHARE_TEXT = f"{SHARE:.0%}".replace("%", " %")


@dataclass(frozen=True)
class LossChange:
    """One loss's mean at the start and at the end of the run."""

    key: str
    first: float
    last: float

    @property
    def name(self) -> str:
        """'total', 'cls': the key without 'loss/'."""
        return self.key.removeprefix("loss/")

    @property
    def change_pct(self) -> float | None:
        """(last − first) / |first| in percent: 0 when equal (0 → 0 too), None from 0 to anything else."""
        if self.last == self.first:
            return 0.0
        return 100.0 * (self.last - self.first) / abs(self.first) if self.first else None


@dataclass(frozen=True)
class EpochSummary:
    """Every loss of a run, first epoch against last (or first 10 % against last 10 % of its points)."""

    losses: list[LossChange]
    first_epoch: int | None = None
    """None: read by shares of the points, not by epochs."""
    last_epoch: int | None = None
    so_far: bool = False
    """The last epoch is still under way (a running run known by its epoch counter)."""

    @property
    def by_epoch(self) -> bool:
        return self.first_epoch is not None

    @property
    def first_label(self) -> str:
        """'epoch 1', or 'first 10 %'."""
        return f"epoch {self.first_epoch}" if self.by_epoch else f"first {SHARE_TEXT}"

    @property
    def last_label(self) -> str:
        """'epoch 30', 'epoch 4 (so far)', or 'last 10 %'."""
        if not self.by_epoch:
            return f"last {SHARE_TEXT}"
        return f"epoch {self.last_epoch}" + (" (so far)" if self.so_far else "")

    @property
    def span(self) -> str:
        """'epoch 1 → 30', 'epoch 1 → 4 (so far)', or 'first 10 % → last 10 %'."""
        if not self.by_epoch:
            return f"{self.first_label} → {self.last_label}"
        return f"epoch {self.first_epoch} → {self.last_epoch}" + (" (so far)" if self.so_far else "")

    @property
    def short_span(self) -> str:
        """The span in a narrow column: 'epoch 1 → 30', 'epoch 1 → 4…' (so far), 'first/last 10 %'."""
        if not self.by_epoch:
            return f"first/last {SHARE_TEXT}"
        return f"epoch {self.first_epoch} → {self.last_epoch}" + ("…" if self.so_far else "")

    def change(self, key: str) -> LossChange | None:
        return next((loss for loss in self.losses if loss.key == key), None)


def loss_keys(scalars: Mapping[str, Series]) -> list[str]:
    """The run's loss series, the total (or the loss the run is read by) first, the others as logged."""
    keys = [key for key in scalars if is_loss(key)]
    lead = loss_key(keys)
    return [lead, *(k for k in keys if k != lead)] if lead is not None else []


def epoch_summary(scalars: Mapping[str, Series], info: Mapping[str, Any]) -> EpochSummary | None:
    """The summary of a run's `loss/*` scalars (over step) given its run.json; None without a loss to read."""
    keys = loss_keys(scalars)
    if not keys:
        return None
    lead_steps = _finite(scalars[keys[0]])[0]
    span = _epoch_span(lead_steps, scalars, info)
    if span is not None:
        first, last, so_far, epochs_of = span
        losses = []
        for key in keys:
            steps, values = _finite(scalars[key])
            epochs = epochs_of(steps)
            head, tail = values[epochs == first], values[epochs == last]
            if len(head) and len(tail):
                losses.append(LossChange(key, float(head.mean()), float(tail.mean())))
        if losses:
            return EpochSummary(losses, first, last, so_far)
    losses = [change for key in keys if (change := _by_share(key, scalars[key])) is not None]
    return EpochSummary(losses) if losses else None


def _finite(series: Series) -> Series:
    steps, values = np.asarray(series[0], float), np.asarray(series[1], float)
    keep = np.isfinite(steps) & np.isfinite(values)
    return steps[keep], values[keep]


def _by_share(key: str, series: Series) -> LossChange | None:
    """The mean of the first and of the last SHARE of the points; None with fewer than MIN_POINTS (a tenth of a
    handful of batches is one batch, not a mean)."""
    values = _finite(series)[1]
    if len(values) < MIN_POINTS:
        return None
    count = max(1, round(SHARE * len(values)))
    return LossChange(key, float(values[:count].mean()), float(values[-count:].mean()))


def _epoch_span(
    steps: np.ndarray, scalars: Mapping[str, Series], info: Mapping[str, Any]
) -> tuple[int, int, bool, Any] | None:
    """(first epoch, last epoch read, whether that one is still under way, steps → epochs) of the run's loss
    at `steps`; None when the run cannot tell its epochs or spans fewer than two."""
    if not len(steps):
        return None
    counter = _finite(scalars[EPOCH_KEY]) if EPOCH_KEY in scalars else None
    if counter is not None and len(counter[0]):
        epochs_of = _counter_epochs(*counter)
        seen = epochs_of(steps)
        first, last = int(seen.min()), int(seen.max())
        if last == first:
            return None
        if info.get("status") != "running":
            return first, last, False, epochs_of  # the run ended: its last epoch is as far as it went
        if last - 1 > first:
            return first, last - 1, False, epochs_of
        return first, last, True, epochs_of
    per_step = _epochs_per_step(info)
    if per_step is None:
        return None

    def passes_epochs(at: np.ndarray) -> np.ndarray:
        return np.maximum(1, np.ceil(np.asarray(at) * per_step - 1e-9)).astype(int)

    progress = info.get("progress")
    step = _number(progress.get("step")) if isinstance(progress, dict) else None
    done_step = max(float(steps.max()), step or 0.0)
    complete = math.floor(done_step * per_step + 1e-6)  # epochs the run has finished
    first = int(passes_epochs(steps).min())
    if complete <= first:  # shorter than 2 epochs (first is 1 at least)
        return None
    return first, complete, False, passes_epochs


def _counter_epochs(counter_steps: np.ndarray, counts: np.ndarray) -> Any:
    """steps → epoch numbers from 1, by the `epoch` scalar last logged at or before each step."""
    order = np.argsort(counter_steps, kind="stable")
    counter_steps, counts = counter_steps[order], counts[order]
    if np.all(counts == np.round(counts)):
        labels = counts.astype(int) + (
            1 if counts.min() == 0 else 0
        )  # a counter from 0 (Lightning) or 1 (YOLOX)
    else:
        labels = np.maximum(1, np.ceil(counts - 1e-9)).astype(int)  # passes: epoch k ends at k passes

    def epochs_of(at: np.ndarray) -> np.ndarray:
        index = np.searchsorted(counter_steps, np.asarray(at), side="right") - 1
        return labels[np.clip(index, 0, len(labels) - 1)]

    return epochs_of


def _epochs_per_step(info: Mapping[str, Any]) -> float | None:
    """Passes over the training set per step: run.json progress, else epoch_units.steps_per_epoch."""
    found = epochs_per_step(info)
    if found:
        return found
    units = info.get("epoch_units")
    steps_per_epoch = _number(units.get("steps_per_epoch")) if isinstance(units, dict) else None
    return 1.0 / steps_per_epoch if steps_per_epoch and steps_per_epoch > 0 else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def fmt_loss(value: float) -> str:
    """A loss mean in 3 significant digits: 6.99, 0.0231, 0."""
    return f"{value:.3g}"


def fmt_change(change: float | None) -> str:
    """'-28.3%', '+4.0%', '-' when there was nothing to change from."""
    return "-" if change is None else f"{change:+.1f}%"
