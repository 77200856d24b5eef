"""The sweep table: one row per point, the varied keys first, then each metric the runs publish (main metric
first, in the runs' metric order), a Delta against a chosen baseline row, and the best value per column.

Everything comes from each run's run.json (`best` or `final`, `main_metric`, `metric_order`): nothing is
guessed from the task's name. Deltas are in the metric's unit: percentage points (pp) for percentages.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.durations import fmt_duration
from engine.core.errors import UserError
from engine.core.export import fmt_number, is_percent, lower_is_better
from engine.core.protocol import RunPaths, metric_order, read_json, train_seconds
from engine.core.sweep.store import load_sweep

USES = ("best", "final")

Column = tuple[str, str]
"""(split, metric)."""


@dataclass
class SweepRow:
    """One point of the sweep and what its run reached."""

    index: int
    run_id: str | None
    run_name: str | None
    status: str
    varied: dict[str, str]
    values: dict[Column, float] = field(default_factory=dict)
    deltas: dict[Column, float] = field(default_factory=dict)
    """value − the baseline row's value, per column both have."""
    train_seconds: float | None = None
    """Seconds of training (run.json train_seconds, else ended − started): the logs' cost column."""


@dataclass
class SweepTable:
    sweep_id: str
    name: str
    use: str
    baseline_index: int
    key_columns: list[str]
    metric_columns: list[Column]
    rows: list[SweepRow]
    best: dict[Column, int]
    """Per metric column, the index of the best row (highest, or lowest for a loss or an error)."""
    main_metric: str | None
    percent: dict[Column, bool]
    """Whether the column is a percentage (its deltas in percentage points)."""

    def is_best(self, column: Column, row: SweepRow) -> bool:
        """Whether the row holds the column's best value (rows tied with the best one too)."""
        if column not in self.best or column not in row.values:
            return False
        best_row = next(r for r in self.rows if r.index == self.best[column])
        return row.values[column] == best_row.values[column]

    def main_columns(self) -> list[Column]:
        """The main metric's column on every split (the first column of each split when none is published)."""
        firsts: dict[str, Column] = {}
        for column in self.metric_columns:
            firsts.setdefault(column[0], column)
        if self.main_metric:
            mains = [c for c in self.metric_columns if c[1] == self.main_metric]
            if mains:
                return mains
        return list(firsts.values())


def build_sweep_table(
    runs_dir: str | os.PathLike[str], sweep_id: str, baseline_index: int | None = None, use: str = "best"
) -> SweepTable:
    """The table of sweep `sweep_id` as its runs stand now (a live run shows its best so far).

    `baseline_index` None: the sweep's own baseline (its plan's, 0 unless chosen).
    """
    if use not in USES:
        raise UserError(f"--use {use}: use one of {', '.join(USES)}")
    sweep = load_sweep(runs_dir, sweep_id)
    baseline = sweep.baseline_index if baseline_index is None else baseline_index
    if not 0 <= baseline < max(1, sweep.total):
        raise UserError(f"--baseline {baseline}: the sweep's points are 0 to {sweep.total - 1}")
    infos: list[dict[str, Any]] = []
    rows = []
    for point in sweep.points:
        info = (read_json(RunPaths(Path(runs_dir) / point.run_id).run_json) or {}) if point.run_id else {}
        infos.append(info)
        values: dict[Column, float] = {}
        reached = info.get(use)
        if isinstance(reached, dict):
            for split, metrics in reached.items():
                if isinstance(metrics, dict):
                    for metric, value in metrics.items():
                        if isinstance(value, (int, float)) and not isinstance(value, bool):
                            values[(str(split), str(metric))] = float(value)
        name = info.get("name")
        rows.append(
            SweepRow(
                index=point.index,
                run_id=point.run_id,
                run_name=name if isinstance(name, str) else None,
                status=point.status,
                varied=dict(point.varied),
                values=values,
                train_seconds=train_seconds(info),
            )
        )
    columns, main = _columns(rows, infos)
    published = {n for info in infos for n in info.get("metric_order") or [] if isinstance(n, str)}
    base = rows[baseline].values if rows else {}
    for row in rows:
        row.deltas = {c: v - base[c] for c, v in row.values.items() if c in base}
    best: dict[Column, int] = {}
    for column in columns:
        scored = [(row.values[column], row.index) for row in rows if column in row.values]
        if scored:  # min and max both keep the first of equal values: ties go to the earlier row
            pick = min if lower_is_better(column[1]) else max
            best[column] = pick(scored, key=lambda s: s[0])[1]
    return SweepTable(
        sweep_id=sweep.id,
        name=sweep.name,
        use=use,
        baseline_index=baseline,
        key_columns=sweep.varied_keys,
        metric_columns=columns,
        rows=rows,
        best=best,
        main_metric=main,
        percent={c: is_percent(c[1], published) for c in columns},
    )


def fmt_train_time(seconds: float | None) -> str:
    """'3m 07s', '1h 05m'; '—' unknown, like every empty cell of the table."""
    return "—" if seconds is None else fmt_duration(seconds)


def _columns(rows: list[SweepRow], infos: list[dict[str, Any]]) -> tuple[list[Column], str | None]:
    """(split, metric) columns: splits in the order the runs report them; in each, the main metric first, then
    the runs' published metric order."""
    reference = next((info for info in infos if info.get("metric_order") or info.get("main_metric")), {})
    main = reference.get("main_metric") if isinstance(reference.get("main_metric"), str) else None
    by_split: dict[str, list[str]] = {}
    for row in rows:
        for split, metric in row.values:
            names = by_split.setdefault(split, [])
            if metric not in names:
                names.append(metric)
    columns: list[Column] = []
    for split, names in by_split.items():
        ordered = metric_order(reference, names)
        if main in ordered:
            ordered = [main, *(n for n in ordered if n != main)]
        columns += [(split, name) for name in ordered]
    return columns, main


# -- text ------------------------------------------------------------------------------------------------------


def column_label(column: Column) -> str:
    return f"{column[0]} {column[1]}"


def value_text(table: SweepTable, column: Column, value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return fmt_number(value, table.percent.get(column, False), signed=signed)


def delta_unit(table: SweepTable, column: Column) -> str:
    return "pp" if table.percent.get(column) else ""


def to_markdown(table: SweepTable, all_deltas: bool = False) -> str:
    """The table in markdown: varied keys, metrics (best per column in bold), a Delta column vs the baseline row
    after each main-metric column (after every metric with `all_deltas`), then training time, status and run."""
    delta_after = set(table.metric_columns if all_deltas else table.main_columns())
    header = ["#", *table.key_columns]
    for column in table.metric_columns:
        header.append(column_label(column))
        if column in delta_after:
            unit = delta_unit(table, column)
            header.append(f"Δ {column[1]}" + (f" ({unit})" if unit else ""))
    header += ["train time", "status", "run"]
    lines = [_md_row(header), _md_row(["---"] * len(header))]
    for row in table.rows:
        is_base = row.index == table.baseline_index
        cells = [f"{row.index} (baseline)" if is_base else str(row.index)]
        cells += [row.varied.get(key, "") for key in table.key_columns]
        for column in table.metric_columns:
            text = value_text(table, column, row.values.get(column))
            if table.is_best(column, row):
                text = f"**{text}**"
            cells.append(text)
            if column in delta_after:
                cells.append(
                    "—" if is_base else value_text(table, column, row.deltas.get(column), signed=True)
                )
        cells += [fmt_train_time(row.train_seconds), row.status, row.run_id or "—"]
        lines.append(_md_row(cells))
    note = (
        f"Sweep {table.name} ({table.sweep_id}), {table.use} values; Δ against row {table.baseline_index}"
        "; of percentages, in percentage points (pp); best per column in bold."
    )
    return "\n".join([*lines, "", note]) + "\n"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def to_csv(table: SweepTable) -> str:
    """Every value and every delta (vs the baseline row) in its own column; numbers without float noise."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["index", *table.key_columns]
    for column in table.metric_columns:
        header += [f"{column[0]}/{column[1]}", f"delta {column[0]}/{column[1]}"]
    writer.writerow([*header, "train_seconds", "baseline", "status", "run_id", "run_name"])
    for row in table.rows:
        cells: list[str] = [str(row.index), *(row.varied.get(key, "") for key in table.key_columns)]
        for column in table.metric_columns:
            value, delta = row.values.get(column), row.deltas.get(column)
            cells.append("" if value is None else value_text(table, column, value))
            cells.append("" if delta is None else value_text(table, column, delta, signed=True))
        is_base = "yes" if row.index == table.baseline_index else ""
        seconds = "" if row.train_seconds is None else f"{row.train_seconds:.1f}"
        writer.writerow([*cells, seconds, is_base, row.status, row.run_id or "", row.run_name or ""])
    return out.getvalue()
