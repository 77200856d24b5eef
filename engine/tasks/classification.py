"""Image classification: ImageFolder data (`<split>/<class>/*.jpg`), a logit loss, top-1 / top-5 accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.config import preset_params
from engine.data.image_folder import class_folders, load_image_folder
from engine.data.pair_augment import build_image_augment
from engine.data.vpr_folders import IMAGE_SUFFIXES
from engine.errors import ConfigError
from engine.metrics.classification import TopKCounter
from engine.models.aggregator_init import initialise_aggregator
from engine.models.cls_model import build_classification_model
from engine.runtime import Runtime
from engine.tasks.base import TASKS
from engine.tasks.summary import MODEL_SUMMARIES, summarise
from engine.tasks.supervised import SupervisedTask, checked_classes


class ClassificationTask(SupervisedTask):
    """Trains backbone + aggregator + linear (or MLP) classifier; evaluates top-1 (and top-5) per test set."""

    main_metric = "top1"
    task_name = "classification"

    def __init__(self, cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator,
                 classes: list[str] | None = None) -> None:
        super().__init__(cfg, runtime, generator)
        data = cfg["data"]
        train_folder = Path(data["root"]) / data["train_dir"]
        self.class_names = classification_classes(classes, train_folder)
        self._build_loss_and_augment(len(self.class_names))
        missing = sorted(set(self.class_names) - set(class_folders(train_folder)))
        if missing:
            raise ConfigError("task.classes", f"no folder for class '{missing[0]}' in {train_folder}")
        train = load_image_folder(train_folder, self.image_size, self.class_names, skip_unlisted=classes is not None)
        self.train_images = torch.from_numpy(train.images)  # N×3×H×W uint8
        self.train_targets = torch.from_numpy(train.labels)  # N int64
        self.test_sets = [load_image_folder(Path(t["path"]), self.eval_size, self.class_names)
                          for t in cfg["eval"]["test_sets"]]
        self.test_names = [t["name"] for t in cfg["eval"]["test_sets"]]
        self.model = build_classification_model(cfg["model"], len(self.class_names))
        self._finish_setup()
        # top-5 says nothing with 5 classes or fewer (always 100%)
        self.top_k = (1, 5) if len(self.class_names) > 5 else (1,)

    def prepare(self) -> None:
        """Data-dependent aggregator initialisation (NetVLAD centres by k-means) from the first training images."""
        batches = (self.normalise(self.train_images[i:i + 64].float().div_(255))
                   for i in range(0, min(len(self.train_images), 1280), 64))
        initialise_aggregator(self.model, batches, seed=self.cfg["train"]["seed"])

    def _build_augment(self, section: dict[str, Any]) -> Any:
        return build_image_augment(section)

    def _augment(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.augment(images, self.generator), labels

    def evaluate(self) -> dict[str, dict[str, float]]:
        """Top-k accuracy (percent) of every test set at eval.image_size."""
        results = {}
        for name, test in zip(self.test_names, self.test_sets):
            counter = TopKCounter(self.top_k)
            labels = torch.from_numpy(test.labels)
            for start, logits in self.predict(test.images):
                counter.update(logits, labels[start:start + len(logits)])
            results[name] = counter.metrics()
        self.model.train()
        return results


def classification_classes(classes: list[str] | None, train_folder: Path, synthetic: bool = False) -> list[str]:
    """Class names: task.classes, else the training folder's class sub-folders (sorted), else the synthetic set's.

    Raises:
        ConfigError: at task.classes when they are malformed; UserError when the folder has no classes.
    """
    if classes is None:
        if not train_folder.is_dir() and synthetic:
            from engine.data.synth_cls import CLASSES

            return sorted(CLASSES)
        classes = class_folders(train_folder)
    return checked_classes(classes, "class folder names")


@TASKS.register("classification", "Image classification")
def build_classification_task(cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator) -> ClassificationTask:
    """Build the classification task from a resolved config; task.classes is its key."""
    return ClassificationTask(cfg, runtime, generator, **preset_params(cfg["task"]))


@MODEL_SUMMARIES.register("classification")
def classification_summary(cfg: dict[str, Any]) -> dict[str, Any]:
    """Parameter table and output size of the configured classification model, without loading images."""
    data = cfg["data"]
    train_folder = Path(data["root"]) / data["train_dir"]
    names = classification_classes(cfg["task"].get("classes"), train_folder, data["synthetic"])
    model = build_classification_model(cfg["model"], len(names))
    output = (f"logits: {len(names)} classes   backbone output: {model.backbone.out_channels} channels, "
              f"stride {model.backbone.stride}   pooled: {model.aggregator.out_dim}-d")
    count = (sum(1 for p in train_folder.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
             if train_folder.is_dir() else None)
    return summarise(cfg, model.module_groups(), output, count, classes=names,
                     backbone_channels=model.backbone.out_channels, backbone_stride=model.backbone.stride)
