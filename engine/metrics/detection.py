"""Object detection metrics: COCO box mAP through torchmetrics' MeanAveragePrecision on the pycocotools backend.

The numbers are COCOeval's own (pycocotools computes them): `mAP` is AP averaged over IoU 0.50:0.95 and over the
classes that have ground truth, `mAP50` / `mAP75` at one IoU, `mAR100` the recall with at most 100 detections per
image, `AP/<class>` AP@[.5:.95] of one class. A class without ground truth anywhere in the set has no AP (COCOeval
gives -1): it gets no `AP/<class>` entry and does not lower the mean; its detections are ignored. All values
are percentages, rounded to 2 decimals (the event store keeps at most 4: engine.core.protocol.rounded_metrics).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torchmetrics.detection import MeanAveragePrecision

DECIMALS = 2
_SUMMARY = {"mAP": "map", "mAP50": "map_50", "mAP75": "map_75", "mAR100": "mar_100"}  # ours → torchmetrics'


def detection_metric_order(class_names: Sequence[str]) -> list[str]:
    """Every metric DetectionScores reports, in reading order (run.json's `metric_order`)."""
    return [*_SUMMARY, *(f"AP/{name}" for name in class_names)]


class DetectionScores:
    """COCO box metrics accumulated image by image over an evaluation set.

    `update` takes what the detection model returns in eval mode and the targets it trains on: lists (one entry
    per image) of {boxes: N×4 x1 y1 x2 y2 pixels, scores: N, labels: N in 0..K-1} and {boxes, labels}, tensors
    on any device. They are kept on the CPU, so evaluation does not hold GPU memory for the whole set.
    """

    def __init__(self, class_names: Sequence[str]) -> None:
        self.class_names = list(class_names)
        # Per-class AP is read from the one evaluation's precision array (extended_summary), as COCOeval's own
        # summary averages it: class_metrics=True would evaluate every image again class by class (twice the
        # time, same numbers). Under DDP rank 0 evaluates alone: syncing at compute would wait for the others.
        self._metric = MeanAveragePrecision(
            iou_type="bbox",
            backend="pycocotools",
            class_metrics=False,
            extended_summary=True,
            sync_on_compute=False,
        )
        self._images = 0

    def update(
        self, predictions: Sequence[dict[str, torch.Tensor]], targets: Sequence[dict[str, torch.Tensor]]
    ) -> None:
        """Add the detections and ground truth of a batch of images (same length, same order)."""
        if len(predictions) != len(targets):
            raise ValueError(
                f"{len(predictions)} predictions for {len(targets)} targets: one of each per image"
            )
        self._metric.update(
            [
                {
                    "boxes": _boxes(p["boxes"]),
                    "scores": p["scores"].detach().float().cpu().reshape(-1),
                    "labels": _labels(p["labels"]),
                }
                for p in predictions
            ],
            [{"boxes": _boxes(t["boxes"]), "labels": _labels(t["labels"])} for t in targets],
        )
        self._images += len(targets)

    def compute(self) -> dict[str, float]:
        """`mAP`, `mAP50`, `mAP75`, `mAR100` and `AP/<class>` in percent (0 for the summary when nothing has
        ground truth: there was nothing to find)."""
        if self._images == 0:
            return dict.fromkeys(_SUMMARY, 0.0)
        with (
            warnings.catch_warnings()
        ):  # "more than 100 detections in an image": max_detections says how many
            warnings.simplefilter("ignore", UserWarning)
            raw = self._metric.compute()
        metrics = {ours: _percent(raw[theirs]) for ours, theirs in _SUMMARY.items()}
        classes = raw["classes"].reshape(-1).tolist()  # sorted: the order of COCOeval's category axis
        precision = raw.get("precision")  # IoU thresholds × recall points × classes × areas × max detections
        for k, index in enumerate(classes if precision is not None else []):
            curve = precision[:, :, k, 0, -1]  # every area, at most 100 detections: COCOeval's AP@[.5:.95]
            curve = curve[curve > -1]  # -1: the class has no ground truth
            if len(curve) and 0 <= index < len(self.class_names):
                metrics[f"AP/{self.class_names[index]}"] = _percent(curve.double().mean())
        return {name: metrics[name] for name in detection_metric_order(self.class_names) if name in metrics}

    def reset(self) -> None:
        """Forget every image added so far (the next evaluation starts empty)."""
        self._metric.reset()
        self._images = 0


def _percent(value: torch.Tensor | float) -> float:
    """A COCOeval fraction as a percentage; its -1 ("no ground truth") as 0."""
    number = float(value)
    return round(100.0 * number, DECIMALS) if number >= 0 else 0.0


def _boxes(boxes: torch.Tensor) -> torch.Tensor:
    return boxes.detach().float().cpu().reshape(-1, 4)


def _labels(labels: torch.Tensor) -> torch.Tensor:
    return labels.detach().long().cpu().reshape(-1)
