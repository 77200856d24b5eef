"""Figures at evaluation: short VPR, segmentation and classification runs write PNGs and `image` events that keep
the contract; retrievals are marked by the ground truth; confusion matrices equal independently counted ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.functional.classification import multiclass_confusion_matrix

import engine.tasks.classification as classification_module
import engine.tasks.segmentation as segmentation_module
import engine.tasks.vpr as vpr_module
from engine.core.config import resolve_config
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    write_json_atomic,
)
from engine.figures import Figure, sample_indices, write_figures
from engine.figures.confusion import confused_pairs, row_rates
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.tasks.seg_inference import predictions_at
from engine.trainer import Trainer
from tests.engine.conftest import tiny_overrides
from tests.engine.seg_cls_data import cls_overrides, seg_overrides, tiny_cls, tiny_seg  # noqa: F401

TAGS = {"retrievals", "overlay", "confusion", "confused_pairs"}
DEMOS = {"vpr": "demo", "segmentation": "seg_demo", "classification": "cls_demo"}


def run(tmp_path: Path, task_name: str, overrides: list[str]) -> tuple[Path, Any, list[dict[str, Any]]]:
    """Train and evaluate in-process; the run folder, the task and every event."""
    cfg = resolve_config(DEMOS[task_name], overrides)
    paths = create_run(tmp_path / "runs", task_name)
    steps = cfg["train"]["max_steps"]
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "t", task_name, [], max_steps=steps))
    runtime = make_runtime(cfg["device"])
    task = TASKS.build(task_name, cfg, runtime, seed_everything(cfg["train"]["seed"]))
    events = EventWriter(paths.events)
    status = Trainer(
        paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events)
    ).train()
    events.close()
    assert status == "completed"
    return paths.root, task, list(iter_events(paths.events))


def spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[tuple[tuple, dict]]:
    """Record the arguments of every call to `module.name`, still calling it."""
    calls: list[tuple[tuple, dict]] = []
    original = getattr(module, name)

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


def check_contract(root: Path, events: list[dict[str, Any]], tags: set[str]) -> list[dict[str, Any]]:
    """Every `image` event keeps the contract; returns them."""
    images = [e for e in events if e["kind"] == "image"]
    splits_at = {}
    for event in events:
        if event["kind"] == "eval":
            splits_at.setdefault(event["step"], set()).add(event["split"])
    assert images and {e["tag"] for e in images} == tags
    for event in images:
        relative = Path(event["path"])
        assert not relative.is_absolute() and ".." not in relative.parts and relative.parts[0] == "figures"
        assert (root / relative).resolve().is_relative_to(root.resolve())
        assert event["split"] in splits_at[event["step"]]
        assert isinstance(event["caption"], str) and event["caption"].strip()
        with Image.open(root / relative) as image:
            image.load()
            assert image.format == "PNG" and image.mode == "RGB" and image.width <= 1024
    # written after the eval events of their step, so a reader has the numbers when the figures arrive
    order = [(e["kind"], e["step"]) for e in events if e["kind"] in ("eval", "image")]
    for step in splits_at:
        kinds = [kind for kind, at in order if at == step]
        assert kinds == sorted(kinds, key=lambda kind: kind == "image")
    assert not list(root.rglob("*.tmp"))
    return images


def test_vpr_retrievals_are_marked_by_the_ground_truth(
    tiny_city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy(monkeypatch, vpr_module, "render_retrievals")
    overrides = [*tiny_overrides(tiny_city, 2), "eval.figure_samples=3", "eval.figure_top_k=4"]
    root, task, events = run(tmp_path, "vpr", overrides)
    images = check_contract(root, events, {"retrievals"})
    splits = [name for name, _ in task.test_sets]
    assert [(e["step"], e["split"]) for e in images] == [(s, n) for s in (0, 2) for n in splits]
    assert (root / "figures/step_000002/retrievals-sim2real.png").is_file()
    radius = task.cfg["eval"]["positive_radius_m"]
    for args, _ in calls:
        split, retrievals = args[0], args[1]
        _, queries, database_utm, query_utm = dict(task.test_sets)[split]
        assert [r.query for r in retrievals] == sample_indices(len(queries), 3).tolist()
        for result in retrievals:
            assert len(result.database) == 4
            distances = np.linalg.norm(database_utm[result.database] - query_utm[result.query], axis=1)
            assert result.correct.tolist() == (distances <= radius).tolist()
            assert np.allclose(result.distance_m, distances)
            assert result.has_positive == bool(
                (np.linalg.norm(database_utm - query_utm[result.query], axis=1) <= radius).any()
            )
    # the same sample queries at every evaluation, so they can be stepped through
    first, last = calls[0][0][1], calls[len(splits)][0][1]
    assert [r.query for r in first] == [r.query for r in last]


def test_segmentation_overlays_and_confusion_from_the_metric_counts(
    tiny_seg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy(monkeypatch, segmentation_module, "render_confusion")
    root, task, events = run(tmp_path, "segmentation", seg_overrides(tiny_seg, steps=1))
    images = check_contract(root, events, {"overlay", "confusion"})
    assert {(e["split"], e["tag"]) for e in images if e["step"] == 1} == {
        (split, tag) for split in ("val", "fog") for tag in ("overlay", "confusion")
    }
    split, counts, names, unit = calls[-1][0]
    assert names == task.class_names and unit == "pixels"
    expected = torch.zeros(len(names), len(names), dtype=torch.int64)
    task.model.eval()
    with torch.no_grad():
        for batch in task.ordered(dict(task.test_sets)[split]):
            logits = task._logits(task.normalise(batch.images.float().div_(255)))
            for one, mask in zip(logits, batch.targets):
                predicted = predictions_at(one[None], tuple(mask.shape))[0]
                expected += multiclass_confusion_matrix(
                    predicted, mask.long(), len(names), ignore_index=segmentation_module.IGNORE_MASK
                )
    assert np.array_equal(counts, expected.numpy())
    overlay = next(e for e in images if e["tag"] == "overlay" and e["split"] == "val" and e["step"] == 1)
    assert overlay["caption"].startswith("4 images") and "mIoU" in overlay["caption"]


def test_classification_confusion_equals_torchmetrics_and_names_the_worst_pairs(
    tiny_cls: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy(monkeypatch, classification_module, "render_confusion")
    root, task, events = run(tmp_path, "classification", cls_overrides(tiny_cls, steps=2))
    images = check_contract(root, events, {"confusion", "confused_pairs"})
    split, counts, names, unit = calls[-1][0]
    assert names == task.class_names and unit == "images"
    predicted, labels = [], []
    for batch, logits in task.predict(dict(task.test_sets)[split]):
        predicted.append(logits.argmax(1))
        labels.append(batch.targets)
    expected = multiclass_confusion_matrix(torch.cat(predicted), torch.cat(labels), len(names))
    assert np.array_equal(counts, expected.numpy())
    pairs_event = next(
        e for e in images if e["tag"] == "confused_pairs" and e["split"] == split and e["step"] == 2
    )
    worst = confused_pairs(counts, 1)
    if worst:
        pair = worst[0]
        assert pairs_event["caption"].startswith(
            f"{names[pair.true]}→{names[pair.predicted]} {100 * pair.rate:.0f}%"
        )
        assert pair.rate == max(row_rates(counts)[~np.eye(len(names), dtype=bool)])


def test_figures_off_writes_none(tiny_cls: Path, tmp_path: Path) -> None:
    root, _, events = run(
        tmp_path, "classification", [*cls_overrides(tiny_cls, steps=1), "eval.figures=false"]
    )
    assert not [e for e in events if e["kind"] == "image"] and not (root / "figures").exists()


def test_confused_pairs_rank_by_share_of_the_true_class() -> None:
    counts = np.array([[8, 2, 0], [1, 1, 8], [0, 0, 0]])
    pairs = confused_pairs(counts, 5)
    assert [(p.true, p.predicted) for p in pairs] == [(1, 2), (0, 1), (1, 0)]
    assert pairs[0].rate == pytest.approx(0.8) and pairs[0].count == 8
    assert np.allclose(row_rates(counts)[2], 0)  # a class without images has no rate, not a division by zero


def test_sample_indices_are_spread_and_stable() -> None:
    assert sample_indices(30, 4).tolist() == [0, 10, 19, 29]
    assert sample_indices(2, 4).tolist() == [0, 1] and sample_indices(0, 4).tolist() == []


def test_a_figure_that_cannot_be_written_is_an_alert_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / "figures").write_text("a file where the folder should be")
    events = EventWriter(tmp_path / "events.jsonl")
    figure = Figure("val", "confusion", Image.new("RGB", (8, 8)), "c")
    assert write_figures(tmp_path, events, 3, [figure]) == []
    events.close()
    (alert,) = list(iter_events(tmp_path / "events.jsonl"))
    assert alert["kind"] == "alert" and alert["code"] == "figure_failed" and "figures" in alert["message"]


def test_a_wide_figure_is_scaled_to_the_width_limit(tmp_path: Path) -> None:
    events = EventWriter(tmp_path / "events.jsonl")
    (path,) = write_figures(
        tmp_path, events, 7, [Figure("a b", "overlay", Image.new("RGB", (3000, 300)), "c")]
    )
    events.close()
    assert path == tmp_path / "figures/step_000007/overlay-a_b.png"
    with Image.open(path) as image:
        assert image.size == (1024, 102)
    (event,) = list(iter_events(tmp_path / "events.jsonl"))
    assert event["path"] == "figures/step_000007/overlay-a_b.png" and event["split"] == "a b"
