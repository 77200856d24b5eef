"""What `labconsole check` shows about a task's model: parameter table per group and phase, output size.

Every task registers a function here (cfg -> summary dict); it builds the model on the CPU without reading
the data set (class names come from the config, the data set's format or the synthetic set).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from engine.core.config.warnings import ESTIMATED_STEPS_PER_EPOCH, feature_map_size
from engine.core.registry import Registry
from engine.core.schedules.epochs import convert_epochs, effective_steps

MODEL_SUMMARIES = Registry("model summary", "task.name")


def model_summary(cfg: dict[str, Any]) -> dict[str, Any]:
    """The summary of the configured task's model (see `summarise`)."""
    import engine.tasks  # noqa: F401  (every task registers its summary when its module loads)

    return MODEL_SUMMARIES.build(cfg["task"]["name"], cfg)


def summarise(
    cfg: dict[str, Any], groups: dict[str, nn.Module], output: str, train_images: int | None, **extra: Any
) -> dict[str, Any]:
    """The dict `check` prints (and `check --json` returns): parameters, freeze phases, epochs, output line.

    Args:
        cfg: The resolved config.
        groups: Module groups of the model (backbone, head, ...).
        output: One line describing what the model outputs (e.g. "logits: 8 classes at 64×96").
        train_images: Training set size when known (epoch-based freeze phases need it), else None.
        **extra: Task-specific entries (class names, backbone channels and stride, ...); `steps_per_epoch`, when
            given, is the task's own epoch (optimizer steps per epoch at one process, no accumulation).
    """
    from engine.freeze import build_freeze, phase_table
    from engine.param_counts import parameter_table

    # images per optimizer step: every process's batches, accumulated
    batch = (
        max(cfg["train"]["batch_size"], 1)
        * cfg["train"]["grad_accum_steps"]
        * cfg["device"].get("processes", 1)
    )
    # a task whose epoch is not one pass over the images (CosPlace: iterations per group) says so
    own_epoch = extra.pop("steps_per_epoch", None)
    batches_per_step = cfg["train"]["grad_accum_steps"] * cfg["device"].get("processes", 1)
    counted = own_epoch / batches_per_step if own_epoch else train_images / batch if train_images else None
    steps_per_epoch = counted or ESTIMATED_STEPS_PER_EPOCH
    run = effective_steps(cfg, None)
    units = convert_epochs(run, steps_per_epoch)  # the epoch keys as the run will convert them
    max_steps = run["train"]["max_steps"]
    phases = phase_table(groups, build_freeze(cfg["freeze"]), max_steps, steps_per_epoch)
    changes = _scheduled_changes(run, groups, steps_per_epoch)
    if extra.get("backbone_stride"):  # what the aggregator pools over (config warnings flag a tiny one)
        extra["feature_map"] = feature_map_size(cfg["model"]["image_size"], int(extra["backbone_stride"]))
    estimated = "" if train_images or own_epoch else " (estimated: no training set counted yet)"
    notes = [f"{unit.text()}{estimated}" for unit in units] + [line for line, _ in changes]
    return {
        "output": "\n".join([output, *notes]),
        "parameters": parameter_table(groups),
        "phases": phases,
        "steps_per_epoch": steps_per_epoch,
        "steps_per_epoch_counted": bool(train_images or own_epoch),
        "max_steps": max_steps,
        "epoch_units": [{**unit.event(), "step_key": unit.step_key, "text": unit.text()} for unit in units],
        "scheduled_changes": [entry for _, entry in changes],
        **extra,
    }


def _scheduled_changes(
    cfg: dict[str, Any], groups: dict[str, nn.Module], steps_per_epoch: float
) -> list[tuple[str, dict[str, Any]]]:
    """schedule.changes placed on the step axis, their freeze paths checked against the model (a pattern must
    match); ("schedule.changes[0] at epoch 28 → step 11,480: schedule.power=1.2", entry) each."""
    from engine.core.schedules.changes import FREEZE_PREFIX, parse_changes
    from engine.freeze import resolve_paths

    out = []
    for change in parse_changes(cfg):
        for key in change.values:
            if key.startswith(FREEZE_PREFIX):
                resolve_paths(groups, [key.removeprefix(FREEZE_PREFIX)], f"{change.where}.set.{key}")
        step = change.step(steps_per_epoch)
        values = " ".join(f"{k}={_shown(v)}" for k, v in change.values.items())
        when = (
            f"at epoch {change.at_epoch:g} → step {step:,}"
            if change.at_epoch is not None
            else f"at step {step:,}"
        )
        after = "" if step < cfg["train"]["max_steps"] else " (after max_steps: never applied)"
        out.append(
            (
                f"{change.where} {when}: {values}{after}",
                {"index": change.index, "step": step, "set": change.values},
            )
        )
    return out


def _shown(value: Any) -> str:
    """A value as `set` takes it (YAML reads a bare on/off as true/false)."""
    return {True: "on", False: "off"}.get(value, str(value)) if isinstance(value, bool) else str(value)
