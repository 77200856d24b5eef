"""Detection metrics against a hand-computed answer and against pycocotools' COCOeval on the same boxes.

The fixture (classes cat, dog, bird; 100×100 boxes):
- image 0: cat A and dog B found exactly (0.9, 0.8), plus a cat false positive scored 0.95, above the true one;
- image 1: cat C found at IoU 0.62 (0.7: counts at IoU .50-.60, not from .65 on), cat D missed;
- image 2: no ground truth; a dog detection (0.5, after the dog's recall is already 1) and a bird detection
  (bird has no ground truth anywhere: no AP/bird, and the mean is over cat and dog only).

cat, 3 ground truths, detections by score: FP, TP(A), C. COCO AP = mean over 101 recall points of the precision
interpolated from the right. While C matches: precision 0, 1/2, 2/3 at recall 0, 1/3, 2/3 → 2/3 on the 67 points
0.00..0.66 → AP = 67·(2/3)/101. Once C misses: precision 1/2 up to recall 1/3 → 34 points → AP = 34·(1/2)/101.
C matches at 3 of the 10 IoU thresholds. dog: AP 1 everywhere. Recall@100: cat 2/3 at 3 thresholds and 1/3 at 7.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from engine.metrics.detection import DetectionScores, detection_metric_order

CLASSES = ["cat", "dog", "bird"]
A, B, C, D = [0, 0, 100, 100], [200, 200, 300, 300], [0, 0, 100, 100], [200, 0, 300, 100]
C_AT_062 = [0, 0, 100, 62]  # IoU with C = 6200 / 10000
FALSE_CAT = [400, 400, 500, 500]


def _image(
    boxes: list[list[int]], labels: list[int], scores: list[float] | None = None
) -> dict[str, torch.Tensor]:
    one = {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(labels, dtype=torch.int64),
    }
    if scores is not None:
        one["scores"] = torch.tensor(scores, dtype=torch.float32)
    return one


TARGETS = [_image([A, B], [0, 1]), _image([C, D], [0, 0]), _image([], [])]
PREDICTIONS = [
    _image([FALSE_CAT, A, B], [0, 0, 1], [0.95, 0.9, 0.8]),
    _image([C_AT_062], [0], [0.7]),
    _image([[10, 10, 60, 60], [300, 300, 350, 350]], [1, 2], [0.5, 0.6]),
]

CAT_AP50 = 67 * (2 / 3) / 101
CAT_AP_STRICT = 34 * (1 / 2) / 101
CAT_AP = (3 * CAT_AP50 + 7 * CAT_AP_STRICT) / 10
CAT_AR100 = (3 * (2 / 3) + 7 * (1 / 3)) / 10
HAND = {
    "mAP": 100 * (CAT_AP + 1) / 2,  # 62.52
    "mAP50": 100 * (CAT_AP50 + 1) / 2,  # 72.11
    "mAP75": 100 * (CAT_AP_STRICT + 1) / 2,  # 58.42
    "mAR100": 100 * (CAT_AR100 + 1) / 2,  # 71.67
    "AP/cat": 100 * CAT_AP,  # 25.05
    "AP/dog": 100.0,
}


def _scores(
    predictions: list[dict[str, torch.Tensor]], targets: list[dict[str, torch.Tensor]]
) -> dict[str, float]:
    scores = DetectionScores(CLASSES)
    scores.update(predictions[:2], targets[:2])  # two batches: accumulation across updates
    scores.update(predictions[2:], targets[2:])
    return scores.compute()


def _cocoeval(
    predictions: list[dict[str, torch.Tensor]], targets: list[dict[str, torch.Tensor]]
) -> dict[str, float]:
    """The same boxes through pycocotools directly (xywh boxes, categories 0..K-1)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(box: list[float]) -> list[float]:
        return [box[0], box[1], box[2] - box[0], box[3] - box[1]]

    annotations, detections = [], []
    for image_id, (pred, target) in enumerate(zip(predictions, targets)):
        for box, label in zip(target["boxes"].tolist(), target["labels"].tolist()):
            wh = xywh(box)
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "category_id": label, "bbox": wh,
                 "area": wh[2] * wh[3], "iscrowd": 0}
            )  # fmt: skip
        for box, label, score in zip(
            pred["boxes"].tolist(), pred["labels"].tolist(), pred["scores"].tolist()
        ):
            detections.append({"image_id": image_id, "category_id": label, "bbox": xywh(box), "score": score})
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {
            "images": [{"id": i} for i in range(len(targets))],
            "annotations": annotations,
            "categories": [{"id": k, "name": name} for k, name in enumerate(CLASSES)],
        }
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(detections), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = evaluation.stats
    reference = {"mAP": stats[0], "mAP50": stats[1], "mAP75": stats[2], "mAR100": stats[8]}
    precision = evaluation.eval["precision"]  # T × R × K × areas × max-dets
    for k, name in enumerate(CLASSES):
        curve = precision[:, :, k, 0, -1]
        if (curve > -1).any():
            reference[f"AP/{name}"] = float(np.mean(curve[curve > -1]))
    return {name: 100 * float(value) for name, value in reference.items()}


def test_known_answer_matches_hand_computation_and_cocoeval() -> None:
    got = _scores(PREDICTIONS, TARGETS)
    assert list(got) == ["mAP", "mAP50", "mAP75", "mAR100", "AP/cat", "AP/dog"]  # no AP/bird: no ground truth
    assert got == {name: round(value, 2) for name, value in HAND.items()}
    assert got == {
        "mAP": 62.52,
        "mAP50": 72.11,
        "mAP75": 58.42,
        "mAR100": 71.67,
        "AP/cat": 25.05,
        "AP/dog": 100.0,
    }
    reference = _cocoeval(PREDICTIONS, TARGETS)
    assert reference == pytest.approx(HAND, abs=1e-6)


def test_no_predictions_score_zero() -> None:
    nothing = [_image([], [], []) for _ in TARGETS]
    got = _scores(nothing, TARGETS)
    assert got == {"mAP": 0.0, "mAP50": 0.0, "mAP75": 0.0, "mAR100": 0.0, "AP/cat": 0.0, "AP/dog": 0.0}


def test_images_without_ground_truth_only() -> None:
    scores = DetectionScores(CLASSES)
    scores.update([_image([A], [0], [0.9])], [_image([], [])])
    assert scores.compute() == {"mAP": 0.0, "mAP50": 0.0, "mAP75": 0.0, "mAR100": 0.0}


def test_reset_and_empty_set() -> None:
    scores = DetectionScores(CLASSES)
    assert scores.compute() == {"mAP": 0.0, "mAP50": 0.0, "mAP75": 0.0, "mAR100": 0.0}
    scores.update(PREDICTIONS, TARGETS)
    scores.reset()
    scores.update(
        PREDICTIONS[:1], TARGETS[:1]
    )  # image 0 alone: cat FP above A → precision 1/2 at every recall
    got = scores.compute()
    assert got["AP/dog"] == 100.0
    assert got["AP/cat"] == 50.0


def test_metric_order() -> None:
    assert detection_metric_order(["car", "person"]) == [
        "mAP",
        "mAP50",
        "mAP75",
        "mAR100",
        "AP/car",
        "AP/person",
    ]
