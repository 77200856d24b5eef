"""The one parameter counter: per module group and in total, for run.json, the `model` event and `check`."""

from __future__ import annotations

from typing import Any

from torch import nn


def parameter_table(modules: dict[str, nn.Module]) -> list[dict[str, Any]]:
    """Parameter counts per module group, then a total row, trainable as the parameters are now.

    Args:
        modules: Group name -> module, e.g. `task.modules()` (backbone, aggregator, head, loss).

    Returns:
        Rows `{"group", "params", "trainable", "frozen"}`; the last row is `group == "total"`, counting a parameter
        shared by two groups once.
    """
    rows = [_row(name, list(module.parameters())) for name, module in modules.items()]
    unique = {id(p): p for module in modules.values() for p in module.parameters()}
    return [*rows, _row("total", list(unique.values()))]


def parameter_counts(modules: dict[str, nn.Module]) -> dict[str, Any]:
    """The same counts as run.json records them: `{"total", "trainable", "by_group": {group: {"total", "trainable"}}}`."""
    *groups, total = parameter_table(modules)
    return {
        "total": total["params"],
        "trainable": total["trainable"],
        "by_group": {row["group"]: {"total": row["params"], "trainable": row["trainable"]} for row in groups},
    }


def _row(group: str, params: list[nn.Parameter]) -> dict[str, Any]:
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total = sum(p.numel() for p in params)
    return {"group": group, "params": total, "trainable": trainable, "frozen": total - trainable}
