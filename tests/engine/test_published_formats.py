"""Training and evaluation through the engine on tiny fixtures in the published layouts (not only the demos').

Each run is a few steps of a tiny model: what is checked is the wiring from a format's index through the
streamed batches to the metrics (random crops of large images, sliding-window evaluation at the labels'
own resolution, places across cities, positives of another data set, binary records, evaluation-only).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.config import resolve_config
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    write_json_atomic,
)
from engine.data.formats.cityscapes import CITYSCAPES_CLASSES
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.trainer import Trainer
from tests.data.fixtures_cls_formats import write_cifar10
from tests.data.fixtures_seg_formats import write_cityscapes
from tests.data.fixtures_vpr_formats import make_gsv_cities, make_msls
from tests.engine.conftest import tiny_overrides
from tests.engine.seg_cls_data import cls_overrides, seg_overrides


def train(tmp_path: Path, cfg: dict) -> tuple[str, list[dict], object]:
    """Run the configured task through the Trainer; (status, events, task)."""
    paths = create_run(tmp_path / "runs", "fmt")
    write_json_atomic(
        paths.run_json,
        new_run_info(paths.run_id, "fmt", cfg["task"]["name"], [], max_steps=cfg["train"]["max_steps"]),
    )
    runtime = make_runtime(cfg["device"])
    task = TASKS.build(cfg["task"]["name"], cfg, runtime, seed_everything(0))
    events = EventWriter(paths.events)
    try:
        status = Trainer(
            paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events)
        ).train()
    finally:
        task.close()
        events.close()
    return status, list(iter_events(paths.events)), task


def final_evals(events: list[dict]) -> dict[str, dict[str, float]]:
    return {e["split"]: e["metrics"] for e in events if e["kind"] == "eval"}


def test_cityscapes_random_crops_and_sliding_window_eval(tmp_path: Path) -> None:
    root = write_cityscapes(tmp_path / "cityscapes").root  # 16×32 images: crops of 8×16 after a random resize
    cfg = resolve_config(
        "seg_demo",
        [
            *seg_overrides(root, steps=2),
            "train.batch_size=2",
            "data.format=auto",
            "model.image_size=[8,16]",
            "data.train_resize=[16,32]",
            "data.scale_range=[0.75,1.5]",
            "eval.image_size=[16,32]",
            "eval.window=[8,16]",
            "eval.val_sets=[]",
            "eval.test_sets=[{name: cs_val, split: val}]",
            "task.classes=null",
            "augment=none",
        ],
    )
    status, events, task = train(tmp_path, cfg)
    assert status == "completed"
    assert task.class_names == CITYSCAPES_CLASSES and task.stream.workers >= 1  # 16×32 PNGs: not cached
    metrics = final_evals(events)["cs_val"]
    assert {"mIoU", "pixel_acc"} <= set(metrics) and all(
        k[4:] in CITYSCAPES_CLASSES for k in metrics if "/" in k
    )
    assert task.plan.summaries == {"train": "Cityscapes: 3 images", "cs_val": "Cityscapes: 2 images"}


def test_gsv_cities_training_with_an_msls_test_set(tmp_path: Path) -> None:
    gsv, msls = tmp_path / "gsv", tmp_path / "msls"
    make_gsv_cities(gsv)
    make_msls(msls)
    cfg = resolve_config(
        "demo",
        [
            *tiny_overrides(gsv, steps=2),
            "train.places_per_batch=2",
            "eval.val_sets=[]",
            f"eval.test_sets=[{{name: msls_val, path: {msls}}}]",
            "data.cache=off",
        ],
    )
    status, events, task = train(tmp_path, cfg)
    assert status == "completed" and task.num_places == 5
    assert set(final_evals(events)["msls_val"]) == {"R@1", "R@5", "R@10", "R@20"}
    assert task.plan.summaries["msls_val"].startswith("Mapillary SLS: ")


def test_cifar10_binary_records(tmp_path: Path) -> None:
    root = write_cifar10(tmp_path).folder.parent
    cfg = resolve_config(
        "cls_demo",
        [
            *cls_overrides(root, steps=2),
            "train.batch_size=4",
            "model.image_size=[32,32]",
            "eval.val_sets=[]",
            "eval.test_sets=[{name: test, split: test}]",
        ],
    )
    status, events, task = train(tmp_path, cfg)
    assert status == "completed" and len(task.class_names) == 10 and task.train_size == 9
    assert set(final_evals(events)["test"]) == {"top1", "top5"}
    assert task.stream.workers >= 1 and task.train_items.store is None  # records are read, never cached


def test_evaluation_only_needs_no_training_data(tmp_path: Path, tiny_city: Path) -> None:
    cfg = resolve_config(
        "demo",
        [
            *tiny_overrides(tiny_city, steps=0),
            "data.root=",
            "eval.val_sets=[]",
            f"eval.test_sets=[{{name: tokyo, path: {tiny_city / 'sim2real'}}}]",
        ],
    )
    status, events, task = train(tmp_path, cfg)
    assert status == "completed" and task.stream is None
    assert set(final_evals(events)) == {"tokyo"}
    with pytest.raises(Exception, match="data.root: required"):
        resolve_config("demo", [*tiny_overrides(tiny_city, steps=2), "data.root="])


def test_evaluation_only_on_a_folder_without_a_training_split(tmp_path: Path) -> None:
    root = write_cityscapes(tmp_path / "cityscapes").root
    (root / "leftImg8bit" / "train").rename(root / "leftImg8bit" / "elsewhere")
    cfg = resolve_config(
        "seg_demo",
        [
            *seg_overrides(root, steps=0),
            "model.image_size=[16,32]",
            "eval.val_sets=[]",
            "eval.test_sets=[{name: val, split: val}]",
            "task.classes=null",
        ],
    )
    status, events, task = train(tmp_path, cfg)
    assert status == "completed" and task.stream is None and set(final_evals(events)) == {"val"}
