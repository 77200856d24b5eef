"""Classification in-process: ImageFolder loading, model, losses on N×C logits, top-k, training and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.core.config import resolve_config
from engine.core.errors import ConfigError, UserError
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    write_json_atomic,
)
from engine.data.formats import DATA_FORMATS, FormatOptions
from engine.data.synth_cls import CLASSES
from engine.models.cls_model import build_classification_model
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.tasks.check_summary import model_summary
from engine.trainer import Trainer
from tests.engine.seg_cls_data import cls_overrides, tiny_cls  # noqa: F401

CPU = {"name": "cpu", "amp": "off"}


def _config(root: Path, *extra: str, steps: int = 3) -> dict:
    return resolve_config("cls_demo", [*cls_overrides(root, steps), *extra])


def test_image_folder_labels_follow_the_class_list(tiny_cls: Path) -> None:
    classes = sorted(CLASSES)
    image_folder = DATA_FORMATS.build("image_folder")
    data = image_folder.read(
        tiny_cls / "val", None, FormatOptions(classes=classes)
    )  # a test set: its own folder
    assert len(data.images) == 3 * len(classes) and data.images.read(0, (48, 48)).shape == (48, 48, 3)
    assert np.array_equal(np.bincount(data.labels), [3] * len(classes))
    with pytest.raises(UserError, match="class folder 'bar' that is not a training class"):
        image_folder.read(tiny_cls / "val", None, FormatOptions(classes=["ring", "square"]))
    with pytest.raises(UserError, match="not found"):
        image_folder.read(tiny_cls / "nope", None, FormatOptions(classes=classes))


@pytest.mark.parametrize(
    ("aggregator", "head"),
    [
        ({"name": "avg"}, {"name": "linear"}),
        (
            {"name": "gem", "p": 3.0, "learn_p": True, "eps": 1e-6},
            {"name": "mlp", "hidden_dim": 0, "dropout": 0.0, "layers": 2, "norm": "none"},
        ),
    ],
)
def test_model_gives_one_logit_per_class(aggregator: dict, head: dict) -> None:
    section = {
        "backbone": {"name": "plain_cnn", "depth": 4, "width": 8},
        "aggregator": aggregator,
        "head": head,
        "image_size": [48, 48],
    }
    model = build_classification_model(section, 6)
    assert model(torch.randn(3, 3, 48, 48)).shape == (3, 6)
    assert list(model.module_groups()) == ["backbone", "aggregator", "head"]
    with pytest.raises(ConfigError, match="model.head.name: 'none' gives 16 outputs"):
        build_classification_model(section | {"head": {"name": "none"}}, 6)


def test_summary_for_check(tiny_cls: Path) -> None:
    summary = model_summary(_config(tiny_cls))
    assert summary["classes"] == sorted(CLASSES) and summary["output"].startswith("logits: 8 classes")
    assert [row["group"] for row in summary["parameters"]] == ["backbone", "aggregator", "head", "total"]
    assert summary["steps_per_epoch"] == pytest.approx(6 * 8 / 8) and summary["steps_per_epoch_counted"]


@pytest.mark.parametrize("loss", ["ce", "focal"])
def test_training_runs_and_reports_top1_top5(tiny_cls: Path, tmp_path: Path, loss: str) -> None:
    cfg = _config(tiny_cls, f"loss={loss}", steps=3)
    paths = create_run(tmp_path / "runs", "cls")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "cls", "classification", [], max_steps=3))
    runtime = make_runtime(cfg["device"])
    task = TASKS.build("classification", cfg, runtime, seed_everything(0))
    events = EventWriter(paths.events)
    status = Trainer(
        paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events)
    ).train()
    events.close()
    assert status == "completed"
    all_events = list(iter_events(paths.events))
    scalars = [e["values"] for e in all_events if e["kind"] == "scalar"]
    assert f"loss/{loss}" in scalars[0] and {"lr/backbone", "lr/head"} <= set(
        scalars[0]
    )  # avg pooling has no weights
    final = [e for e in all_events if e["kind"] == "eval"][-2:]
    assert [e["split"] for e in final] == ["val", "noisy"]
    assert (
        set(final[0]["metrics"]) == {"top1", "top5"}
        and final[0]["metrics"]["top5"] >= final[0]["metrics"]["top1"]
    )
    assert task.main_score({e["split"]: e["metrics"] for e in final}) == final[0]["metrics"]["top1"]


def test_config_mistakes(tiny_cls: Path) -> None:
    runtime = make_runtime(CPU)
    with pytest.raises(
        ConfigError, match="train.batch_size: 64 images per batch, but the training set has only 48"
    ):
        TASKS.build("classification", _config(tiny_cls, "train.batch_size=64"), runtime, seed_everything(0))
    with pytest.raises(ConfigError, match="loss.name: 'triplet' is a loss on descriptors"):
        TASKS.build("classification", _config(tiny_cls, "loss=triplet"), runtime, seed_everything(0))
    with pytest.raises(ConfigError, match="train.batch_size: required for classification"):
        _config(tiny_cls, "train.batch_size=0")
    subset = TASKS.build(
        "classification",
        _config(
            tiny_cls,
            "task.classes=[ring, circle]",
            "eval.val_sets=[]",
            "eval.test_sets=[]",
            "train.batch_size=4",
        ),
        runtime,
        seed_everything(0),
    )
    assert subset.class_names == ["ring", "circle"] and subset.train_size == 12
    assert subset.model.num_classes == 2 and set(subset.train_items.targets.tolist()) == {0, 1}
    with pytest.raises(UserError, match="class folder 'bar' that is not a training class"):
        TASKS.build(
            "classification",
            _config(tiny_cls, "task.classes=[ring, circle]", "train.batch_size=4"),
            runtime,
            seed_everything(0),
        )  # the test sets hold all eight classes
    with pytest.raises(ConfigError, match="task.classes: no training images of class 'oval'"):
        TASKS.build(
            "classification",
            _config(
                tiny_cls,
                "task.classes=[ring, oval]",
                "eval.val_sets=[]",
                "eval.test_sets=[]",
                "train.batch_size=4",
            ),
            runtime,
            seed_everything(0),
        )


def test_summary_before_the_synthetic_data_exists(tmp_path: Path) -> None:
    cfg = resolve_config(
        "cls_demo", [f"data.root={tmp_path / 'later'}"]
    )  # data.synthetic: made at the first run
    summary = model_summary(cfg)
    assert summary["classes"] == sorted(CLASSES) and not summary["steps_per_epoch_counted"]
