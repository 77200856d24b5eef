"""What `labconsole check` shows about a task's model: parameter table per group and phase, output size.

Every task registers a function here (cfg -> summary dict); it builds the model on the CPU without reading
the data set (class names come from the config, the data set's format or the synthetic set).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from engine.core.config.warnings import feature_map_size
from engine.core.registry import Registry

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
        **extra: Task-specific entries (class names, backbone channels and stride, ...).
    """
    from engine.freeze import build_freeze, phase_table
    from engine.param_counts import parameter_table

    # images per optimizer step: every process's batches, accumulated
    batch = (
        max(cfg["train"]["batch_size"], 1)
        * cfg["train"]["grad_accum_steps"]
        * cfg["device"].get("processes", 1)
    )
    steps_per_epoch = train_images / batch if train_images else 1000.0
    phases = phase_table(groups, build_freeze(cfg["freeze"]), cfg["train"]["max_steps"], steps_per_epoch)
    if extra.get("backbone_stride"):  # what the aggregator pools over (config warnings flag a tiny one)
        extra["feature_map"] = feature_map_size(cfg["model"]["image_size"], int(extra["backbone_stride"]))
    return {
        "output": output,
        "parameters": parameter_table(groups),
        "phases": phases,
        "steps_per_epoch": steps_per_epoch,
        "steps_per_epoch_counted": bool(train_images),
        **extra,
    }
