"""Optimizer with named param groups and a steerable LR schedule computed by the torch-free engine.core.schedules."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.core.schedules import lr_factor

#: Param group -> the optim key holding its LR multiplier (groups not listed use 1.0).
LR_MULTIPLIERS = {"backbone": "backbone_lr_mult", "loss": "loss_lr_mult"}


def build_optimizer(optim_cfg: dict[str, Any], groups: dict[str, nn.Module]) -> torch.optim.Optimizer:
    """One param group per named module group, each with its own base LR.

    Frozen parameters are included too: their grad stays None so the optimizer skips them, and unfreezing
    them later (a freeze schedule) lets them join with their group's LR without rebuilding the optimizer.
    """
    param_groups = []
    for name, module in groups.items():
        params = list(module.parameters())
        if not params:
            continue
        mult = optim_cfg.get(LR_MULTIPLIERS.get(name, ""), 1.0)
        param_groups.append({"params": params, "name": name, "lr_mult": mult, "lr": optim_cfg["lr"] * mult})
    if optim_cfg["name"] == "sgd":
        return torch.optim.SGD(
            param_groups,
            lr=optim_cfg["lr"],
            momentum=optim_cfg["momentum"],
            weight_decay=optim_cfg["weight_decay"],
            nesterov=bool(optim_cfg.get("nesterov", False)),
        )
    return torch.optim.AdamW(
        param_groups,
        lr=optim_cfg["lr"],
        betas=(optim_cfg["momentum"], 0.999),
        weight_decay=optim_cfg["weight_decay"],
    )


class LRSchedule:
    """Sets each group's LR to base_lr × multiplier × schedule factor; base LR and schedule stay steerable mid-run."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, base_lr: float, schedule: dict[str, Any], max_steps: int
    ):
        self.optimizer = optimizer
        self.base_lr = base_lr
        self.schedule = dict(schedule)
        self.max_steps = max_steps

    def apply(self, step: int) -> None:
        """Set the LR used by the optimizer step that follows `step` completed steps."""
        factor = lr_factor(self.schedule, step, max(self.max_steps, 1))
        for group in self.optimizer.param_groups:
            group["lr"] = self.base_lr * group["lr_mult"] * factor

    def current(self) -> dict[str, float]:
        """`lr/<group>` -> current LR, for scalar events."""
        return {f"lr/{g['name']}": g["lr"] for g in self.optimizer.param_groups}

    def state_dict(self) -> dict[str, Any]:
        return {"base_lr": self.base_lr, "schedule": dict(self.schedule), "max_steps": self.max_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lr, self.schedule, self.max_steps = (
            state["base_lr"],
            dict(state["schedule"]),
            state["max_steps"],
        )
