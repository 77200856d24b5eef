"""Semantic segmentation metrics from a confusion matrix accumulated over an evaluation set.

Definitions as torchmetrics' MulticlassJaccardIndex / MulticlassAccuracy (micro) with ignore_index:
IoU_c = TP / (TP + FP + FN); mIoU averages the classes that occur in the targets or the predictions
(a class absent from both has no IoU and is left out, not counted as 0); pixel accuracy is the share of
labelled pixels predicted right. Unlabelled pixels count nowhere. All values are percentages.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class ConfusionMatrix:
    """C×C counts, rows = target class, columns = predicted class; updated batch by batch on the device."""

    def __init__(self, num_classes: int, ignore_index: int, device: torch.device | str = "cpu") -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.counts = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    def update(self, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        """Add predicted class indices and targets of the same shape (pixels equal to ignore_index skipped)."""
        keep = targets != self.ignore_index
        pairs = targets[keep].long() * self.num_classes + predictions[keep].long().to(targets.device)
        self.counts += (
            torch.bincount(pairs, minlength=self.num_classes**2)
            .view(self.num_classes, -1)
            .to(self.counts.device)
        )


def segmentation_metrics(counts: torch.Tensor, class_names: Sequence[str]) -> dict[str, float]:
    """`mIoU`, `pixel_acc` and `IoU/<class>` (percent) from a confusion matrix.

    A class absent from both targets and predictions gets no `IoU/<class>` entry (its IoU is undefined).
    """
    counts = counts.double().cpu()
    tp = counts.diag()
    union = counts.sum(0) + counts.sum(1) - tp
    present = union > 0
    iou = torch.where(present, tp / union.clamp(min=1), torch.zeros_like(tp))
    labelled = counts.sum()
    metrics = {
        "mIoU": 100.0 * float(iou[present].mean()) if present.any() else 0.0,
        "pixel_acc": 100.0 * float(tp.sum() / labelled) if labelled > 0 else 0.0,
    }
    for index, name in enumerate(class_names):
        if present[index]:
            metrics[f"IoU/{name}"] = 100.0 * float(iou[index])
    return metrics
