"""Eval table: a row per test set with its metrics and their change since the previous eval (the header says
so), the evaluation of the best checkpoint (`best @step`), Δ vs baseline."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from rich.text import Text
from textual.widgets import DataTable

from engine.core.protocol import metric_order as protocol_metric_order
from tui.data.run_snapshot import EvalPoint

GOOD, BAD = "#4EBF71", "#F0506E"
"""Delta colours on dark themes: better green, worse red."""
GOOD_LIGHT, BAD_LIGHT = "#1E8E3E", "#C62828"
"""Delta colours on light themes."""

WIDE_METRICS = 6
"""Above this many metrics (per-class IoU) the table turns: one row per metric instead of per test set."""


def metric_order(names: Iterable[str], published: Sequence[str] = ()) -> list[str]:
    """Columns in the order the engine published for the run (run.json metric_order); others after, as met."""
    return protocol_metric_order({"metric_order": list(published)}, names)


def higher_is_better(name: str) -> bool:
    """Recall, IoU, accuracy and mAP go up; anything named like a loss or an error goes down."""
    lowered = name.lower()
    return not any(word in lowered for word in ("loss", "err", "mae", "rmse"))


def column_label(name: str) -> str:
    """Header text: per-class IoU columns show the class only."""
    return name.removeprefix("IoU/")


DELTA_LEGEND = "Δ vs prev eval"
"""After the first column's header: what the delta next to each latest value is against."""


@dataclass(frozen=True)
class SplitSummary:
    """What the table shows for one test set."""

    split: str
    step: int | None
    latest: dict[str, float]
    previous: dict[str, float]
    best: dict[str, float]
    """Every metric of the best checkpoint's evaluation (one step, not a per-metric maximum)."""
    best_step: int | None = None
    role: str = ""
    """"val" or "test" when the run declares validation splits ("" for runs made before roles)."""


def best_point(history: Sequence[EvalPoint], main_metric: str) -> EvalPoint | None:
    """The evaluation the best checkpoint was chosen at, as the trainer chooses it: the best `main_metric`
    after step 0 (the first of equals); only step 0 when nothing came after it."""
    scored = [p for p in history if not math.isnan(p.metrics.get(main_metric, math.nan))]
    trained = [p for p in scored if p.step] or scored
    if not trained:
        return None
    sign = 1 if higher_is_better(main_metric) else -1
    return max(trained, key=lambda p: sign * p.metrics[main_metric])  # max keeps the first of equals


def summarize(
    split: str, history: Iterable[EvalPoint], main_metric: str | None = None, best_step: int | None = None
) -> SplitSummary:
    """Latest and previous metrics, and the evaluation of the best checkpoint: at `best_step` when the split
    was evaluated then, else this split's best `main_metric` (default: its first metric)."""
    points = list(history)
    latest = points[-1] if points else EvalPoint(None, {})
    main_metric = main_metric or next(iter(latest.metrics), "")
    at_step = [p for p in points if best_step is not None and p.step == best_step]
    best = at_step[-1] if at_step else best_point(points, main_metric)
    previous = points[-2].metrics if len(points) > 1 else {}
    best_metrics = {k: v for k, v in best.metrics.items() if not math.isnan(v)} if best else {}
    return SplitSummary(
        split, latest.step, dict(latest.metrics), dict(previous), best_metrics, best.step if best else None
    )


def delta_text(delta: float | None, name: str, dark: bool = True, signed_zero: str = "±0.0") -> Text:
    """'+1.2' green when better, '−0.3' red when worse, dim when unchanged or unknown."""
    if delta is None or math.isnan(delta):
        return Text("", style="dim")
    if abs(delta) < 0.05:
        return Text(signed_zero, style="dim")
    good = (delta > 0) == higher_is_better(name)
    colour = (GOOD if dark else GOOD_LIGHT) if good else (BAD if dark else BAD_LIGHT)
    return Text(f"{delta:+.1f}".replace("-", "−"), style=colour)


def fmt_value(value: float | None) -> str:
    """A metric with one decimal ('–' when missing)."""
    return "–" if value is None or math.isnan(value) else f"{value:.1f}"


class EvalTable(DataTable):
    """Per test set: the latest values with their change since the last eval, a `best` row, a Δ base row."""

    DEFAULT_CSS = """
    EvalTable { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="none", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._shown: tuple[object, ...] | None = None
        self._latest_step: int | None = None

    def show(
        self,
        evals: Mapping[str, tuple[EvalPoint, ...]],
        baseline: Mapping[str, Mapping[str, float]] | None,
        baseline_name: str | None = None,
        dark: bool = True,
        order: Sequence[str] = (),
        main_metric: str | None = None,
    ) -> None:
        """Rebuild the rows (only when the evals, the baseline or the theme changed); `order`: the run's
        published metric order; `main_metric`: the one best.pt is chosen by on the first test set (run.json
        main_metric; default: the first published)."""
        key = (
            tuple((s, len(h)) for s, h in evals.items()),
            repr(baseline),
            baseline_name,
            dark,
            tuple(order),
            main_metric,
        )
        if key == self._shown:
            return
        self._shown = key
        main = main_metric or next(iter(order), None)
        # best.pt is chosen on the first validation split (the first split of runs made before roles)
        chosen_on = [h for h in evals.values() if h and h[-1].role == "val"] or list(evals.values())
        first = chosen_on[0] if chosen_on else ()
        chosen = best_point(first, main or next(iter(first[-1].metrics), "")) if first else None
        best_step = chosen.step if chosen else None  # one checkpoint: its evaluation on every test set
        summaries = [summarize(split, history, main, best_step) for split, history in evals.items()]
        if any(h and h[-1].role == "val" for h in evals.values()):
            summaries = [replace(s, role=evals[s.split][-1].role) for s in summaries]
        names = metric_order((n for s in summaries for n in s.latest), order)
        steps = [s.step for s in summaries if s.step is not None]
        self._latest_step = max(steps) if steps else None
        if len(names) > WIDE_METRICS:
            headers, rows = self._by_metric(summaries, names, baseline, dark)
        else:
            headers = [Text.assemble(("test set", "bold"), (f"  {DELTA_LEGEND}", "dim"))] + [
                Text(column_label(n), style="bold", justify="right") for n in names
            ]
            rows = self._rows(summaries, names, baseline, dark)
        self.clear(columns=True)
        for i, header in enumerate(headers):
            # Explicit widths: DataTable's automatic ones can leave stale, too-narrow cells on screen.
            width = max([header.cell_len] + [row[1][i].cell_len for row in rows])
            self.add_column(header, width=width, key=f"c{i}")
        for row_key, cells in rows:
            self.add_row(*cells, key=row_key)

    @property
    def latest_step(self) -> int | None:
        """The step of the most recent evaluation shown."""
        return self._latest_step

    def _rows(
        self,
        summaries: list[SplitSummary],
        names: list[str],
        baseline: Mapping[str, Mapping[str, float]] | None,
        dark: bool,
    ) -> list[tuple[str, list[Text]]]:
        """(row key, cells) for every test set: latest, best and (with a baseline) Δ base."""
        rows: list[tuple[str, list[Text]]] = []
        for s in summaries:
            label = Text(s.split, style="bold")
            if s.role and s.role != s.split:
                label.append(f" {s.role}", style="dim italic")
            if s.step is not None and s.step != self._latest_step:
                label.append(f" @{s.step:,}", style="dim")
            rows.append((f"{s.split}:latest", [label] + [self._latest_cell(s, n, dark) for n in names]))
            best_label = Text(
                "  best" + (f" @{s.best_step:,}" if s.best_step is not None else ""), style="dim"
            )
            rows.append((f"{s.split}:best", [best_label] + [self._best_cell(s, n) for n in names]))
            base = baseline.get(s.split) if baseline else None
            if base is not None:
                rows.append(
                    (
                        f"{s.split}:base",
                        [Text("  Δ base", style="dim")] + [self._base_cell(s, n, base, dark) for n in names],
                    )
                )
        if not rows:
            rows.append(
                ("empty", [Text("no evaluation yet", style="dim italic")] + [Text("") for _ in names])
            )
        return rows

    def _by_metric(
        self,
        summaries: list[SplitSummary],
        names: list[str],
        baseline: Mapping[str, Mapping[str, float]] | None,
        dark: bool,
    ) -> tuple[list[Text], list[tuple[str, list[Text]]]]:
        """Many metrics (per-class IoU): one row per metric, and per test set the value, best and Δ base."""
        headers = [Text.assemble(("metric", "bold"), (f"  {DELTA_LEGEND}", "dim"))]
        for s in summaries:
            best_at = f" @{s.best_step:,}" if s.best_step is not None else ""
            headers += [
                Text(s.split, style="bold", justify="right"),
                Text(f"best{best_at}", style="dim", justify="right"),
            ]
            if baseline and s.split in baseline:
                headers.append(Text("Δ base", style="dim", justify="right"))
        rows = []
        for name in names:
            cells = [Text(column_label(name), style="bold" if not name.startswith("IoU/") else "")]
            for s in summaries:
                cells += [self._latest_cell(s, name, dark), self._best_cell(s, name)]
                if baseline and s.split in baseline:
                    cells.append(self._base_cell(s, name, baseline[s.split], dark))
            rows.append((name, cells))
        return headers, rows

    def _latest_cell(self, s: SplitSummary, name: str, dark: bool) -> Text:
        """'67.3 +1.2': the value, then its change since the previous eval."""
        value = s.latest.get(name)
        old = s.previous.get(name)
        cell = Text(fmt_value(value))
        if value is not None and old is not None:
            cell.append(" ")
            cell.append_text(delta_text(value - old, name, dark))
        cell.justify = "right"
        return cell

    def _best_cell(self, s: SplitSummary, name: str) -> Text:
        """The best checkpoint's value; bold when the latest eval is the best checkpoint's."""
        best = s.best.get(name)
        is_latest = best is not None and s.best_step == s.step
        return Text(fmt_value(best), style="bold" if is_latest else "dim", justify="right")

    def _base_cell(self, s: SplitSummary, name: str, base: Mapping[str, float], dark: bool) -> Text:
        """Latest value minus the baseline's."""
        value, ref = s.latest.get(name), base.get(name)
        delta = None if value is None or ref is None else value - ref
        cell = delta_text(delta, name, dark, signed_zero="0.0")
        cell.justify = "right"
        return cell
