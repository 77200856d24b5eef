"""Evaluate a stored checkpoint of a finished run again, with changed eval settings (`labconsole eval`).

Run as `python -m engine.reevaluate` with the request as JSON on stdin (engine.core.engine_calls):
{run_dir, config (resolved, overrides applied), checkpoint (its file), label ("best", "last", "step_000500"),
settings (the overrides, as given)}. Each set's result goes to events.jsonl as an `eval` event with
`reeval: true`, the checkpoint and the settings, and to run.json `reevaluations`; the answer lists them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from engine.core.engine_calls import answer


def reevaluate(request: dict[str, Any], args: list[str]) -> list[dict[str, Any]]:
    from engine.checkpoint import load_checkpoint
    from engine.core.config.eval_sets import TEST, split_roles
    from engine.core.protocol import EventWriter, RunPaths, update_run_info
    from engine.core.protocol.rundir import read_json
    from engine.core.protocol.runinfo import rounded_metrics
    from engine.runtime import make_runtime, seed_everything
    from engine.tasks import TASKS
    from engine.tasks.base import task_fingerprints

    cfg, paths = request["config"], RunPaths(Path(request["run_dir"]))
    cfg["eval"]["figures"] = (
        False  # the run's figures show its training evaluations; a re-evaluation adds none
    )
    state = load_checkpoint(Path(request["checkpoint"]))
    runtime = make_runtime(cfg["device"])
    task = TASKS.build(cfg["task"]["name"], cfg, runtime, seed_everything(cfg["train"]["seed"]))
    try:
        _load_weights(task, state)
        results = {split: rounded_metrics(m) for split, m in task.evaluate().items()}
    finally:
        task.close()
    fingerprints, roles = task_fingerprints(task), split_roles(cfg)
    step, label, settings = int(state.get("step") or 0), request["label"], request.get("settings") or {}
    now = time.time()
    records = [
        {
            "t": now,
            "checkpoint": label,
            "step": step,
            "split": split,
            "role": roles.get(split, TEST),
            "metrics": metrics,
            "fingerprint": fingerprints.get(split, {}),
            "settings": settings,
        }
        for split, metrics in results.items()
    ]
    events = EventWriter(paths.events)
    try:
        for record in records:
            fields = {k: v for k, v in record.items() if k not in ("t", "step")}
            events.emit("eval", step=step, reeval=True, **fields)
    finally:
        events.close()
    earlier = (read_json(paths.run_json) or {}).get("reevaluations") or []
    update_run_info(paths.run_json, reevaluations=[*earlier, *records])
    return records


def _load_weights(task: Any, state: dict[str, Any]) -> None:
    """The checkpoint's weights; its EMA average when the run kept one (what its own evaluations measured)."""
    weights = {k.removeprefix("_orig_mod."): v for k, v in state["model"]["model"].items()}  # train.compile
    task.load_state_dict({**state["model"], "model": weights, "sampler": None})
    ema = state.get("ema")
    if ema:
        averaged = {k.removeprefix("module."): v for k, v in ema.items() if k.startswith("module.")}
        task.model.load_state_dict(averaged)


if __name__ == "__main__":
    sys.exit(answer(reevaluate))
