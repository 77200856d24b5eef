"""Parameter counts of a built model for run.json and the `model` event: total, trainable, per module group."""

from __future__ import annotations

from typing import Any

from torch import nn

from engine.freeze import Phase, apply_phase


def parameter_counts(modules: dict[str, nn.Module], phase: Phase | None = None) -> dict[str, Any]:
    """`{"total", "trainable", "by_group": {group: {"total", "trainable"}}}`, trainable as in `phase` when given.

    Args:
        modules: Group name -> module, e.g. `task.modules()` (backbone, aggregator, head, loss).
        phase: The freeze phase to count trainable parameters in (the run's first); the model is left as it was.

    A parameter shared by two groups counts once in the totals.
    """
    if phase is None:
        return _count(modules)
    saved = {id(p): (p, p.requires_grad) for module in modules.values() for p in module.parameters()}
    apply_phase(modules, phase, norm_eval=False)
    try:
        return _count(modules)
    finally:
        for param, requires_grad in saved.values():
            param.requires_grad_(requires_grad)


def _count(modules: dict[str, nn.Module]) -> dict[str, Any]:
    by_group = {name: _sizes(list(module.parameters())) for name, module in modules.items()}
    unique = {id(p): p for module in modules.values() for p in module.parameters()}
    return {**_sizes(list(unique.values())), "by_group": by_group}


def _sizes(params: list[nn.Parameter]) -> dict[str, int]:
    return {"total": sum(p.numel() for p in params), "trainable": sum(p.numel() for p in params if p.requires_grad)}
