"""Segmentation and classification metrics against torchmetrics on random data."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from engine.metrics.classification import TopKCounter
from engine.metrics.segmentation import ConfusionMatrix, segmentation_metrics

IGNORE = 255


def _random_masks(seed: int, classes: int, absent: tuple[int, ...] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and targets (4 batches of 2×16×24), ~10% ignored, some classes never used."""
    gen = torch.Generator().manual_seed(seed)
    used = torch.tensor([c for c in range(classes) if c not in absent])
    target = used[torch.randint(len(used), (8, 16, 24), generator=gen)]
    pred = torch.where(
        torch.rand(target.shape, generator=gen) < 0.6,
        target,
        used[torch.randint(len(used), target.shape, generator=gen)],
    )
    target[torch.rand(target.shape, generator=gen) < 0.1] = IGNORE
    return pred, target


@pytest.mark.parametrize(("seed", "absent"), [(0, ()), (1, (2,)), (2, (0, 5))])
def test_miou_per_class_iou_and_pixel_acc_match_torchmetrics(seed: int, absent: tuple[int, ...]) -> None:
    classes = 6
    pred, target = _random_masks(seed, classes, absent)
    confusion = ConfusionMatrix(classes, IGNORE)
    jaccard = MulticlassJaccardIndex(classes, average="macro", ignore_index=IGNORE)
    per_class = MulticlassJaccardIndex(classes, average="none", ignore_index=IGNORE)
    accuracy = MulticlassAccuracy(classes, average="micro", ignore_index=IGNORE)
    for p, t in zip(pred.split(2), target.split(2)):  # accumulated batch by batch, as in evaluation
        confusion.update(p, t)
        for metric in (jaccard, per_class, accuracy):
            metric.update(p, t)
    names = [f"c{i}" for i in range(classes)]
    ours = segmentation_metrics(confusion.counts, names)
    assert ours["mIoU"] == pytest.approx(100 * jaccard.compute().item(), abs=1e-4)
    assert ours["pixel_acc"] == pytest.approx(100 * accuracy.compute().item(), abs=1e-4)
    reference = per_class.compute()
    for c in range(classes):
        if c in absent:
            assert f"IoU/c{c}" not in ours  # absent from targets and predictions: undefined, left out
        else:
            assert ours[f"IoU/c{c}"] == pytest.approx(100 * reference[c].item(), abs=1e-4)


def test_ignored_pixels_count_nowhere_and_perfect_is_100() -> None:
    target = torch.tensor([[0, 1, IGNORE], [2, 2, IGNORE]])
    confusion = ConfusionMatrix(3, IGNORE)
    confusion.update(torch.tensor([[0, 1, 1], [2, 2, 0]]), target)
    assert confusion.counts.sum() == 4
    metrics = segmentation_metrics(confusion.counts, ["a", "b", "c"])
    assert metrics == {"mIoU": 100.0, "pixel_acc": 100.0, "IoU/a": 100.0, "IoU/b": 100.0, "IoU/c": 100.0}


def test_a_class_only_predicted_has_iou_zero_and_counts_in_the_mean() -> None:
    confusion = ConfusionMatrix(3, IGNORE)
    confusion.update(torch.tensor([0, 0, 2, 1]), torch.tensor([0, 0, 1, 1]))
    metrics = segmentation_metrics(confusion.counts, ["a", "b", "c"])
    assert metrics["IoU/c"] == 0.0 and metrics["IoU/b"] == pytest.approx(50.0)
    assert metrics["mIoU"] == pytest.approx((100 + 50 + 0) / 3)


@pytest.mark.parametrize("seed", [0, 1])
def test_top1_top5_match_torchmetrics(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    logits, labels = torch.randn(50, 10, generator=gen), torch.randint(10, (50,), generator=gen)
    counter = TopKCounter((1, 5))
    for chunk_logits, chunk_labels in zip(logits.split(16), labels.split(16)):
        counter.update(chunk_logits, chunk_labels)
    for k in (1, 5):
        reference = MulticlassAccuracy(10, top_k=k, average="micro")(logits, labels).item()
        assert counter.metrics()[f"top{k}"] == pytest.approx(100 * reference, abs=1e-4)
