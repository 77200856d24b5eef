"""Sweeps as groups of the runs list: each sweep's progress and best point, read from the rows' run.json "sweep"
(carried by the history index, so grouping 10,000 runs reads nothing more), and the `sweep:NAME` filter term."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tui.data.run_index import RunRow

FINISHED = ("completed", "failed", "stopped", "interrupted", "damaged")
"""Statuses of a sweep point that is done (whatever its outcome): they count toward n of n/N."""

SWEEP_TERM = "sweep:"
"""The filter term keeping the runs of the sweeps whose name or id contains what follows it."""


@dataclass(frozen=True)
class SweepGroup:
    """One sweep as the runs list shows it: name, progress, best point so far on the main metric."""

    id: str
    name: str
    total: int
    """Points in the sweep (the largest total its runs carry: an extended sweep grows)."""
    members: tuple[str, ...]
    """Run ids of its points, in point order."""
    done: int
    running: int
    failed: int
    metric_name: str
    best: float | None
    """Best value of the main metric among its runs (higher is better for every published main metric)."""
    best_run: str | None
    """Run id of the best point."""
    best_point: str
    """The best point's varied values, short ("lr=1e-3 aggregator=gem")."""
    last_when: float | None
    """The newest start (or creation) among its runs: where the group sorts by time."""


def short_keys(keys: Iterable[str]) -> dict[str, str]:
    """Each dotted key by its shortest unambiguous ending, as the sweep's run names and the CLI name it."""
    from engine.core.sweep.axes import short_keys as shortest  # imports yaml: not at console start

    return shortest(list(dict.fromkeys(keys)))


def point_text(row: RunRow, labels: dict[str, str] | None = None) -> str:
    """The varied values of a sweep run: 'lr=1e-3 aggregator=gem' ('' outside sweeps)."""
    if row.sweep is None:
        return ""
    labels = labels if labels is not None else short_keys(k for k, _ in row.sweep.varied)
    return " ".join(f"{labels.get(k, k)}={v}" for k, v in row.sweep.varied)


def group_sweeps(rows: Iterable[RunRow]) -> dict[str, SweepGroup]:
    """Every sweep among `rows`, by sweep id."""
    members: dict[str, list[RunRow]] = {}
    for row in rows:
        if row.sweep is not None:
            members.setdefault(row.sweep.id, []).append(row)
    return {sweep_id: _group(sweep_id, runs) for sweep_id, runs in members.items()}


def _group(sweep_id: str, runs: list[RunRow]) -> SweepGroup:
    runs.sort(key=lambda r: (r.sweep.index if r.sweep else 0, r.id))
    newest = max(runs, key=lambda r: (r.when or 0.0, r.id))
    scored = [r for r in runs if r.metric is not None]
    best = max(scored, key=lambda r: r.metric or 0.0) if scored else None
    labels = short_keys(k for r in runs if r.sweep for k, _ in r.sweep.varied)
    whens = [r.when for r in runs if r.when is not None]
    return SweepGroup(
        id=sweep_id,
        name=newest.sweep.name if newest.sweep else sweep_id,
        total=max(r.sweep.total for r in runs if r.sweep),
        members=tuple(r.id for r in runs),
        done=sum(1 for r in runs if r.status in FINISHED),
        running=sum(1 for r in runs if r.status == "running"),
        failed=sum(1 for r in runs if r.status in ("failed", "damaged")),
        metric_name=best.metric_name if best else next((r.metric_name for r in runs if r.metric_name), ""),
        best=best.metric if best else None,
        best_run=best.id if best else None,
        best_point=point_text(best, labels) if best else "",
        last_when=max(whens) if whens else None,
    )


def split_sweep_terms(text: str) -> tuple[str, tuple[str, ...]]:
    """Filter `text` without its `sweep:NAME` terms, and the names those terms ask for (lower case)."""
    kept: list[str] = []
    names: list[str] = []
    for token in text.split():
        if token.lower().startswith(SWEEP_TERM):
            names.extend(n for n in token[len(SWEEP_TERM) :].lower().split(",") if n)
        else:
            kept.append(token)
    return " ".join(kept), tuple(names)


def in_sweeps(row: RunRow, names: tuple[str, ...]) -> bool:
    """Whether the run is a point of a sweep whose name or id contains one of `names` (every run without names)."""
    if not names:
        return True
    if row.sweep is None:
        return False
    return any(n in row.sweep.name.lower() or n in row.sweep.id.lower() for n in names)
