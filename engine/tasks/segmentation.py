"""Semantic segmentation: per-pixel classes from images/ + masks/ folders; mIoU, per-class IoU, pixel accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.config import preset_params
from engine.data.pair_augment import PAIR_AUGMENTS
from engine.data.seg_folders import IGNORE_MASK, check_ignore_index, load_seg_split, read_classes_json
from engine.data.vpr_folders import IMAGE_SUFFIXES
from engine.errors import ConfigError
from engine.losses import IGNORE_INDEX
from engine.metrics.segmentation import ConfusionMatrix, segmentation_metrics
from engine.models.seg_model import build_segmentation_model
from engine.runtime import Runtime
from engine.tasks.base import TASKS
from engine.tasks.summary import MODEL_SUMMARIES, summarise
from engine.tasks.supervised import SupervisedTask, checked_classes


class SegmentationTask(SupervisedTask):
    """Trains a backbone + decoder head with a per-pixel loss; evaluates mIoU on every test set.

    Masks are kept as uint8 with IGNORE_MASK for unlabelled pixels; batches hand the loss int64 targets
    with IGNORE_INDEX there.
    """

    main_metric = "mIoU"
    task_name = "segmentation"

    def __init__(self, cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator,
                 classes: list[str] | None = None, ignore_index: int = 255) -> None:
        super().__init__(cfg, runtime, generator)
        if cfg["augment"]["name"] not in PAIR_AUGMENTS:  # checked before the data is read
            raise ConfigError("augment.name", f"'{cfg['augment']['name']}' cannot move masks with their images; "
                                              f"segmentation allows: {', '.join(PAIR_AUGMENTS.names())}")
        data = cfg["data"]
        self.class_names = segmentation_classes(classes, Path(data["root"]))
        num_classes = len(self.class_names)
        check_ignore_index(ignore_index, num_classes)
        self._build_loss_and_augment(num_classes)
        train = load_seg_split(Path(data["root"]) / data["train_dir"], self.image_size, num_classes, ignore_index)
        self.train_images = torch.from_numpy(train.images)  # N×3×H×W uint8
        self.train_targets = torch.from_numpy(train.masks)  # N×H×W uint8
        self.test_sets = [load_seg_split(Path(t["path"]), self.eval_size, num_classes, ignore_index)
                          for t in cfg["eval"]["test_sets"]]
        self.test_names = [t["name"] for t in cfg["eval"]["test_sets"]]
        self.model = build_segmentation_model(cfg["model"], num_classes)
        self._finish_setup()

    def _build_augment(self, section: dict[str, Any]) -> Any:
        return PAIR_AUGMENTS.build(section["name"], **preset_params(section))

    def _augment(self, images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Joint geometry for images and masks, colour on images; masks -> int64 targets with IGNORE_INDEX."""
        images, masks = self.augment.pair(images, masks, self.generator)
        targets = masks.long()
        return images, targets.masked_fill_(targets == IGNORE_MASK, IGNORE_INDEX)

    def evaluate(self) -> dict[str, dict[str, float]]:
        """Confusion matrix over each test set at eval.image_size, then mIoU, pixel_acc and IoU/<class>."""
        results = {}
        for name, test in zip(self.test_names, self.test_sets):
            confusion = ConfusionMatrix(len(self.class_names), IGNORE_MASK, self.runtime.device)
            masks = torch.from_numpy(test.masks)
            for start, logits in self.predict(test.images):
                confusion.update(logits.argmax(1), masks[start:start + len(logits)].to(logits.device))
            results[name] = segmentation_metrics(confusion.counts, self.class_names)
        self.model.train()
        return results


def segmentation_classes(classes: list[str] | None, root: Path, synthetic: bool = False) -> list[str]:
    """Class names: task.classes, else root/classes.json, else (synthetic data still to make) the generator's.

    Raises:
        ConfigError: at task.classes when they are malformed or nowhere to be found.
    """
    if classes is None:
        classes = read_classes_json(root)
        if classes is None and synthetic:
            from engine.data.synth_seg_scene import CLASSES

            classes = list(CLASSES)
        if classes is None:
            raise ConfigError("task.classes", f"required: the class names in mask-index order (or a classes.json "
                                              f"list in {root})")
    return checked_classes(classes, "class names")


@TASKS.register("segmentation", "Semantic segmentation")
def build_segmentation_task(cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator) -> SegmentationTask:
    """Build the segmentation task from a resolved config; task.classes and task.ignore_index are its keys."""
    return SegmentationTask(cfg, runtime, generator, **preset_params(cfg["task"]))


@MODEL_SUMMARIES.register("segmentation")
def segmentation_summary(cfg: dict[str, Any]) -> dict[str, Any]:
    """Parameter table and logits size of the configured segmentation model, without loading data."""
    data = cfg["data"]
    root = Path(data["root"])
    names = segmentation_classes(cfg["task"].get("classes"), root, data["synthetic"])
    model = build_segmentation_model(cfg["model"], len(names))
    height, width = model.image_size
    scales = ", ".join(f"{c}@{s}" for c, s in zip([t.channels for t in model.taps] + [model.backbone.out_channels],
                                                   [t.stride for t in model.taps] + [model.backbone.stride]))
    output = (f"logits: {len(names)} classes × {height}×{width} (head at stride {model.head.out_stride}, "
              f"upsampled)   backbone scales (channels@stride): {scales}")
    images = root / data["train_dir"] / "images"
    count = sum(1 for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if images.is_dir() else None
    return summarise(cfg, model.module_groups(), output, count, classes=names,
                     backbone_channels=model.backbone.out_channels, backbone_stride=model.backbone.stride)
