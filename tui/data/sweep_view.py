"""What the sweep table screen shows, off the UI thread: the sweep's table and state, re-read only when one of
its files changed, and which metric columns fit the terminal's width."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.core.sweep import SweepState, load_sweep
from engine.core.sweep.table import Column, SweepTable, build_sweep_table, column_label

Stamps = tuple[tuple[str, int, int], ...]
"""(file, mtime_ns, size) of every file a sweep table is read from."""

KEY_WIDTH_MAX = 16
"""Widest a varied key's column gets (its values cut with an ellipsis beyond)."""
FIXED_WIDTH = 4 + 12 + 2 * 2
"""The index and status columns, with their padding."""
METRIC_WIDTH = 9
"""A metric or delta column with padding ('pitts30k' headers are cut to this)."""


@dataclass(frozen=True)
class SweepView:
    """One reading of a sweep: its state (status, points, queue) and its table against the chosen baseline."""

    state: SweepState
    table: SweepTable
    stamps: Stamps
    asked: tuple[int | None, str]
    """The baseline (None: the sweep's own) and the values ("best" or "final") it was read with."""


def sweep_files(runs_dir: Path, sweep_id: str, run_ids: Iterable[str | None]) -> list[Path]:
    """The files a sweep's table is read from: its plan, its state, and the run.json of each started point."""
    root = runs_dir / ".sweeps" / sweep_id
    return [root / "sweep.json", root / "state.json", *(runs_dir / r / "run.json" for r in run_ids if r)]


def stamps_of(files: Iterable[Path]) -> Stamps:
    """The (mtime, size) of each file (a missing one as (0, 0)): equal stamps, nothing to read again."""
    out = []
    for path in files:
        try:
            st = os.stat(path)
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), 0, 0))
    return tuple(out)


def read_view(
    runs_dir: Path, sweep_id: str, baseline: int | None, use: str, previous: SweepView | None = None
) -> SweepView | None:
    """The sweep read again when any of its files changed since `previous` (None: nothing changed).

    A sweep whose runs do not change is one stat per point a look; a running point rewrites its run.json about
    once a second, and the table is rebuilt then.
    """
    if previous is not None:
        known = [p.run_id for p in previous.state.points]
        stamps = stamps_of(sweep_files(runs_dir, sweep_id, known))
        if stamps == previous.stamps and (baseline, use) == previous.asked:
            return None
    state = load_sweep(runs_dir, sweep_id)
    stamps = stamps_of(sweep_files(runs_dir, sweep_id, [p.run_id for p in state.points]))
    valid = baseline if baseline is None or 0 <= baseline < max(1, state.total) else None
    table = build_sweep_table(runs_dir, sweep_id, baseline_index=valid, use=use)
    return SweepView(state, table, stamps, (baseline, use))


def fitting_columns(table: SweepTable, width: int) -> tuple[list[Column], set[Column]]:
    """The metric columns that fit in `width` cells after the index, status and varied keys, and those followed
    by a Delta column: the first main column and its Delta always; then the other splits' main columns (each
    with its Delta), then the other metrics, in the table's order."""
    mains = table.main_columns()
    keys = sum(min(KEY_WIDTH_MAX, max(len(k.rsplit(".", 1)[-1]), 6)) + 2 for k in table.key_columns)
    room = width - FIXED_WIDTH - keys
    chosen: list[Column] = []
    deltas: set[Column] = set()
    wanted = [(c, True) for c in mains] + [(c, False) for c in table.metric_columns if c not in mains]
    for column, with_delta in wanted:
        cost = METRIC_WIDTH * (2 if with_delta else 1)
        if chosen and cost > room:
            continue
        chosen.append(column)
        room -= cost
        if with_delta:
            deltas.add(column)
    order = {c: i for i, c in enumerate(table.metric_columns)}
    return sorted(chosen, key=lambda c: order[c]), deltas


def header_label(table: SweepTable, column: Column) -> str:
    """'R@1' alone when the sweep reports one split, 'pitts30k R@1' otherwise (the header cell wraps it)."""
    splits = {c[0] for c in table.metric_columns}
    return column[1] if len(splits) == 1 else column_label(column)
