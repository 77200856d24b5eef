"""Image classification: ImageFolder data (`<split>/<class>/*.jpg`), a logit loss, top-1 / top-5 accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.core.config import preset_params
from engine.core.config.eval_sets import with_every_set
from engine.core.errors import ConfigError
from engine.data.formats import LabelIndex
from engine.data.loading import data_report
from engine.data.pair_augment import build_image_augment
from engine.data.samples import ImageItems
from engine.figures import Figure, FigureSettings
from engine.figures.confusion import confused_pairs, render_confused_pairs, render_confusion
from engine.metrics.classification import TopKCounter
from engine.metrics.segmentation import ConfusionMatrix
from engine.models.aggregator_init import initialise_aggregator
from engine.models.aux_outputs import begin_evaluation, end_evaluation, evaluation_figures, with_measured
from engine.models.cls_model import build_classification_model
from engine.runtime import Runtime
from engine.tasks.base import TASKS, class_set_digest, files_digest, set_paths
from engine.tasks.check_summary import MODEL_SUMMARIES, summarise
from engine.tasks.supervised import SupervisedTask, checked_classes


class ClassificationTask(SupervisedTask):
    """Trains backbone + aggregator + linear (or MLP) classifier; evaluates top-1 (and top-5) per test set."""

    main_metric = "top1"
    task_name = "classification"

    def __init__(
        self,
        cfg: dict[str, Any],
        runtime: Runtime,
        generator: torch.Generator,
        classes: list[str] | None = None,
    ) -> None:
        super().__init__(cfg, runtime, generator)
        self.class_names = checked_classes(self.plan.classes(), "class folder names")
        self.plan.options.classes = self.class_names
        self._build_loss_and_augment(len(self.class_names))
        train = self.plan.train_index()
        if train is not None and classes is not None:
            missing = sorted(set(range(len(self.class_names))) - set(np.unique(train.labels).tolist()))
            if missing:
                raise ConfigError(
                    "task.classes",
                    f"no training images of class '{self.class_names[missing[0]]}' in "
                    f"{Path(cfg['data']['root']) / cfg['data']['train_dir']}",
                )
        self.test_sets = [
            (name, self._items(index, self.eval_size, name)) for name, index in self.plan.test_indexes()
        ]
        self.model = build_classification_model(cfg["model"], len(self.class_names))
        self._finish_setup(self._items(train, self.image_size, "train") if train is not None else None)
        # top-5 says nothing with 5 classes or fewer (always 100%)
        self.top_k = (1, 5) if len(self.class_names) > 5 else (1,)

    def metric_order(self) -> list[str]:
        return [f"top{k}" for k in self.top_k]

    def fingerprints(self) -> dict[str, dict[str, Any]]:
        """How each set is measured: its files, image count and class set."""
        if self._fingerprints is not None:  # the sets never change during a run
            return self._fingerprints
        folders = set_paths(self.cfg)
        self._fingerprints = {
            name: {
                "set": name,
                "files_sha256": files_digest([items.source], folders.get(name, "")),
                "images": len(items),
                "classes": len(self.class_names),
                "class_set_sha256": class_set_digest(self.class_names),
            }
            for name, items in self.test_sets
        }
        return self._fingerprints

    def _items(self, index: LabelIndex, size: tuple[int, int], name: str) -> ImageItems:
        """Images at `size` with their labels, cached when small."""
        return ImageItems(index.images, size, index.labels, self.plan.image_store(index.images, size, name))

    def prepare(self) -> None:
        """Data-dependent initialisation from the first training images: the modules' own (PCE router keys),
        then the aggregator's (NetVLAD centres by k-means) on the prepared backbone."""
        if self.stream is None:
            return
        self.prepare_modules()
        batches = (
            self.normalise(b.images.float().div_(255))
            for b in self.ordered(self.train_items, min(self.train_size, 1280), 64)
        )
        initialise_aggregator(self.model, batches, seed=self.cfg["train"]["seed"])

    def _build_augment(self, section: dict[str, Any]) -> Any:
        return build_image_augment(section)

    def _augment(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.augment(images, self.generator), labels

    def evaluate(self) -> dict[str, dict[str, float]]:
        """Top-k accuracy (percent) of every test set at eval.image_size, then what the model's modules measured
        over the pass (engine.models.aux_outputs).

        With eval.figures on, also counts the confusion matrix (from the same logits) and draws it with the most
        confused pairs per test set.
        """
        figures = FigureSettings.of(self.cfg)
        results = {}
        for name, items in self.test_sets:
            counter = TopKCounter(self.top_k)
            confusion = (
                ConfusionMatrix(len(self.class_names), -1, self.runtime.device) if figures.enabled else None
            )
            examples: dict[tuple[int, int], int] = {}
            begin_evaluation(self.model)
            for batch, logits in self.predict(items):
                counter.update(logits, batch.targets)
                if confusion is not None:
                    predicted = logits.argmax(1)
                    confusion.update(predicted, batch.targets.to(predicted.device))
                    _first_mistakes(examples, batch.targets, predicted.cpu(), batch.indices)
            results[name] = with_measured(counter.metrics(), end_evaluation(self.model))
            if confusion is not None:
                self.figures.extend(
                    self._figures_of(name, items, confusion.counts.cpu().numpy(), examples, figures)
                )
                self.figures.extend(evaluation_figures(self.model, name))
        self.model.train()
        return results

    def _figures_of(
        self,
        split: str,
        items: ImageItems,
        counts: np.ndarray,
        examples: dict[tuple[int, int], int],
        figures: FigureSettings,
    ) -> list[Figure]:
        """The confusion matrix and the most confused pairs, each pair shown with one of its images."""
        pairs = confused_pairs(counts, max(figures.samples, MOST_CONFUSED))
        return [
            render_confusion(split, counts, self.class_names, "images"),
            render_confused_pairs(
                split, pairs, self.class_names, examples, items.source.read, self.eval_size
            ),
        ]


MOST_CONFUSED = 6
"""Pairs the confused-pairs figure shows at least (eval.figure_samples when larger)."""


def _first_mistakes(
    examples: dict[tuple[int, int], int], labels: torch.Tensor, predicted: torch.Tensor, indices: torch.Tensor
) -> None:
    """Remember the first image of each (true, predicted) confusion, to show it next to the pair."""
    for true, guess, index in zip(labels.tolist(), predicted.tolist(), indices.tolist()):
        if true != guess:
            examples.setdefault((true, guess), index)


@TASKS.register("classification", "Image classification")
def build_classification_task(
    cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator
) -> ClassificationTask:
    """Build the classification task from a resolved config; task.classes is its key."""
    return ClassificationTask(cfg, runtime, generator, **preset_params(cfg["task"]))


@MODEL_SUMMARIES.register("classification")
def classification_summary(cfg: dict[str, Any]) -> dict[str, Any]:
    """Parameter table and output size of the configured classification model; the data set is indexed, not read."""
    report = data_report(with_every_set(cfg))
    names = cfg["task"].get("classes") or report["classes"]
    if names is None and cfg["data"]["synthetic"]:
        from engine.data.synth_cls import CLASSES

        names = sorted(CLASSES)
    names = checked_classes(names, "class folder names")
    model = build_classification_model(cfg["model"], len(names))
    output = (
        f"logits: {len(names)} classes   backbone output: {model.backbone.out_channels} channels, "
        f"stride {model.backbone.stride}   pooled: {model.aggregator.out_dim}-d"
    )
    return summarise(
        cfg,
        model.module_groups(),
        output,
        report["train_images"],
        classes=names,
        data=report,
        backbone_channels=model.backbone.out_channels,
        backbone_stride=model.backbone.stride,
    )
