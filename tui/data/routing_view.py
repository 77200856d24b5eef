"""What the monitor's routing panel shows of a run whose model routes patches to experts (the `pce` backbone).

The model logs, per training step, `routing/util_s<k>_e<i>` (share of stage k's patches whose top expert is i),
`routing/entropy_s<k>` (bits) and `routing/entropy`; each evaluation adds `routing/mi_bits` (position ↔ expert
mutual information), `routing/route_clusters`, `routing/routes_used` and `routing/load_balance`. An expert
switched off mid-run (`set model.backbone.expert.<i>=off`, by hand or by schedule.changes) is known from the
engine's applied control answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tui.data.run_snapshot import EvalPoint

UTIL_KEY = re.compile(r"routing/util_s(\d+)_e(\d+)$")
"""A per-step utilisation scalar: stage, expert."""
EXPERT_SWITCH = re.compile(r"(?:^|\.)expert\.(\d+)$")
"""A steering key that switches one expert on or off (`model.backbone.expert.2`)."""
OFF_VALUES = frozenset(("off", "false", "0"))
"""How the engine reports (and a schedule may spell) a switched-off expert."""

Series = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class StageRouting:
    """One stage at the latest logged step."""

    stage: int
    shares: tuple[float, ...]
    """Per expert, 0..1 (NaN for an expert this stage did not log)."""
    entropy_bits: float | None


@dataclass(frozen=True)
class RoutingEval:
    """The routing diagnostics of the latest evaluation that reported them."""

    step: int | None
    split: str
    mi_bits: float | None
    route_clusters: float | None
    routes_used: float | None
    load_balance: float | None


@dataclass(frozen=True)
class RoutingView:
    """Everything the routing panel draws."""

    step: int | None
    """The step of the shares shown."""
    num_experts: int
    stages: tuple[StageRouting, ...]
    switched_off: frozenset[int]
    evaluation: RoutingEval | None

    @property
    def max_entropy_bits(self) -> float:
        """log2(experts): the entropy of a router that cannot choose."""
        return math.log2(self.num_experts) if self.num_experts > 1 else 0.0


def logs_routing(names: Iterable[str]) -> bool:
    """True when a run logs per-expert utilisation (only such runs get the panel)."""
    return any(name.startswith("routing/util_") and UTIL_KEY.match(name) for name in names)


def switched_off_experts(controls: Iterable[Mapping[str, Any]]) -> frozenset[int]:
    """Experts whose latest applied switch (in event order) turned them off."""
    state: dict[int, bool] = {}
    for event in controls:
        values = event.get("values")
        if event.get("status") != "applied" or event.get("action") != "set" or not isinstance(values, dict):
            continue
        for key, value in values.items():
            match = EXPERT_SWITCH.search(str(key))
            if match:
                state[int(match.group(1))] = str(value).strip().lower() not in OFF_VALUES
    return frozenset(expert for expert, on in state.items() if not on)


def _last(series: Series | None) -> tuple[float | None, float | None]:
    """(step, value) of a series' last point."""
    if series is None or not len(series[1]):
        return None, None
    return float(series[0][-1]), float(series[1][-1])


def _latest_evaluation(evals: Mapping[str, Iterable[EvalPoint]]) -> RoutingEval | None:
    """The latest evaluation with routing metrics (a validation set before a test set at the same step)."""
    best: tuple[tuple[int, int], str, EvalPoint] | None = None
    for split, points in evals.items():
        for point in points:
            if "routing/mi_bits" not in point.metrics and "routing/route_clusters" not in point.metrics:
                continue
            rank = (point.step if point.step is not None else -1, point.role == "val")
            if best is None or rank >= best[0]:
                best = (rank, split, point)
    if best is None:
        return None
    _, split, point = best

    def metric(name: str) -> float | None:
        value = point.metrics.get(f"routing/{name}")
        return float(value) if value is not None and math.isfinite(value) else None

    return RoutingEval(
        point.step,
        split,
        metric("mi_bits"),
        metric("route_clusters"),
        metric("routes_used"),
        metric("load_balance"),
    )


def routing_view(
    scalars: Mapping[str, Series],
    evals: Mapping[str, Iterable[EvalPoint]],
    controls: Iterable[Mapping[str, Any]] = (),
) -> RoutingView | None:
    """The latest shares per stage and expert, each stage's entropy, the switched-off experts and the latest
    evaluation's diagnostics; None for a run that logs no utilisation."""
    cells: dict[tuple[int, int], float] = {}
    step: float | None = None
    for name, series in scalars.items():
        match = UTIL_KEY.match(name) if name.startswith("routing/util_") else None
        if match is None:
            continue
        at, value = _last(series)
        if value is None:
            continue
        cells[(int(match.group(1)), int(match.group(2)))] = value
        step = at if step is None or (at is not None and at > step) else step
    if not cells:
        return None
    num_experts = 1 + max(expert for _, expert in cells)
    stages = []
    for stage in sorted({s for s, _ in cells}):
        shares = tuple(cells.get((stage, e), math.nan) for e in range(num_experts))
        _, entropy = _last(scalars.get(f"routing/entropy_s{stage}"))
        stages.append(StageRouting(stage, shares, entropy))
    return RoutingView(
        None if step is None else int(step),
        num_experts,
        tuple(stages),
        switched_off_experts(controls),
        _latest_evaluation(evals),
    )
