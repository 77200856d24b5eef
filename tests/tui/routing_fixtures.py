"""A fake run of the routing (`pce`) backbone for console tests and screenshots: 3 stages × 4 experts, per-step
utilisation and entropy, evaluations with mutual information and route clusters, expert 3 switched off."""

from __future__ import annotations

import math
from pathlib import Path

from engine.core.protocol import EventWriter
from tests.tui.fixtures import make_run

STAGES, EXPERTS = 3, 4
FIRST_STEP, LAST_STEP, EVERY = 10, 600, 10
OFF_AT = 400
"""The step at which `set model.backbone.expert.3=off` is applied."""
EVAL_EVERY = 200


def shares_at(step: int, stage: int, off: bool) -> list[float]:
    """Plausible shares of one stage at `step`: drifting apart as training goes on, expert 3 at 0 once off."""
    raw = [
        1.0 + 0.6 * math.sin(step / 150 + stage * 1.3 + expert * 0.9) ** 2 * (1 + stage)
        for expert in range(4)
    ]
    if off:
        raw[3] = 0.0
    total = sum(raw)
    return [round(r / total, 4) for r in raw]


def entropy_bits(shares: list[float]) -> float:
    """The entropy of a stage's shares, in bits (close to the router's mean entropy for a fake run)."""
    return -sum(p * math.log2(p) for p in shares if p > 0)


def routing_scalars(step: int) -> dict[str, float]:
    """The pce backbone's per-step scalars at `step`."""
    values: dict[str, float] = {}
    entropies = []
    for stage in range(STAGES):
        shares = shares_at(step, stage, step >= OFF_AT)
        entropies.append(round(entropy_bits(shares) - 0.1 * stage, 4))
        values[f"routing/entropy_s{stage}"] = entropies[-1]
        for expert, share in enumerate(shares):
            values[f"routing/util_s{stage}_e{expert}"] = share
    values["routing/entropy"] = round(sum(entropies) / STAGES, 4)
    return values


def routing_eval(step: int) -> dict[str, float]:
    """An evaluation's routing diagnostics (besides top-1) at `step`."""
    grow = step / LAST_STEP
    return {
        "top1": round(40 + 30 * grow, 2),
        "routing/entropy": round(1.9 - 0.3 * grow, 4),
        "routing/load_balance": round(1.0 + 0.1 * grow, 4),
        "routing/mi_bits": round(0.1 + 0.5 * grow, 4),
        **{f"routing/mi_bits_s{stage}": round(0.1 + 0.2 * stage * grow, 4) for stage in range(STAGES)},
        "routing/routes_used": float(8 + int(20 * grow)),
        "routing/route_clusters": float(2 + int(4 * grow)),
    }


def routing_run(runs: Path, name: str = "pce-demo") -> Path:
    """A running classification run of the pce backbone, as its trainer logs it."""
    folder = make_run(
        runs,
        name,
        "running",
        task="classification",
        backbone="pce",
        aggregator="gap",
        loss="ce",
        max_steps=1_000,
    )
    with EventWriter(folder / "events.jsonl") as writer:
        for step in range(FIRST_STEP, LAST_STEP + 1, EVERY):
            writer.scalar(step, routing_scalars(step))
            if step == OFF_AT:
                writer.emit(
                    "control",
                    step=step,
                    id="c-off",
                    action="set",
                    status="applied",
                    values={"model.backbone.expert.3": "off"},
                )
            if step % EVAL_EVERY == 0:
                writer.emit("eval", step=step, split="val", role="val", metrics=routing_eval(step))
    return folder
