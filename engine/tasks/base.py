"""What the training loop needs from a task, and the task registry (one entry per problem)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch import nn

from engine.registry import Registry

TASKS = Registry("task", "task.name")


class Task(Protocol):
    """A problem (VPR, segmentation, ...): supplies batches, the loss and evaluate(); the loop stays generic."""

    main_metric: str
    model: nn.Module
    freeze_phase: Any

    def modules(self) -> dict[str, nn.Module]:
        """Named module groups (backbone, aggregator, head, loss): param groups and the parameter table."""

    def parameters(self) -> Iterator[nn.Parameter]:
        """Every trainable parameter (for gradient clipping)."""

    def prepare(self) -> None:
        """Data-dependent initialisation before the first step (e.g. NetVLAD k-means)."""

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next training batch, augmented, normalised and on the device."""

    def compute_loss(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and its logged components (`loss/<name>`)."""

    def evaluate(self) -> dict[str, dict[str, float]]:
        """Metrics per test split."""

    def main_score(self, results: dict[str, dict[str, float]]) -> float | None:
        """The number best.pt is chosen by (higher is better)."""

    def steps_per_epoch(self) -> float:
        """Optimizer steps in one pass over the training set (freeze phases given in epochs use it)."""

    def epoch(self, step: int) -> float:
        """Passes over the training set after `step` steps."""

    def state_dict(self) -> dict[str, Any]:
        """Model weights plus data-order state."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore state_dict()."""
