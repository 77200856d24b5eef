"""Classification metrics: top-k accuracy in percent (torchmetrics' MulticlassAccuracy, micro, top_k)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class TopKCounter:
    """Counts, over an evaluation set, the images whose label is among their k highest-scoring classes."""

    def __init__(self, ks: Sequence[int]) -> None:
        self.ks = tuple(ks)
        self.hits = dict.fromkeys(self.ks, 0)
        self.total = 0

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """N×C scores and N class indices."""
        top = logits.topk(min(max(self.ks), logits.shape[1]), dim=1).indices  # N×k, best first
        correct = top == labels.view(-1, 1).to(top.device)
        for k in self.ks:
            self.hits[k] += int(correct[:, :k].any(1).sum())
        self.total += len(labels)

    def metrics(self) -> dict[str, float]:
        """`top<k>` -> percent of images (0 for an empty set)."""
        return {f"top{k}": 100.0 * self.hits[k] / self.total if self.total else 0.0 for k in self.ks}
