"""Semantic segmentation: per-pixel classes from images/ + masks/ folders; mIoU, per-class IoU, pixel accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.core.config import preset_params
from engine.core.config.eval_sets import with_every_set
from engine.core.errors import ConfigError
from engine.core.protocol.fingerprints import size_text
from engine.data.formats import MaskIndex
from engine.data.formats.seg_folders import check_ignore_index, read_classes_json
from engine.data.loading import data_report
from engine.data.pair_augment import PAIR_AUGMENTS
from engine.data.samples import CropGeometry, MaskItems
from engine.data.sources import MaskLabels
from engine.figures import Figure, FigureSettings, sample_indices
from engine.figures.confusion import render_confusion
from engine.figures.overlays import OverlaySample, render_overlays, shrink_labels
from engine.losses import IGNORE_INDEX
from engine.metrics.segmentation import ConfusionMatrix, segmentation_metrics
from engine.models.aux_outputs import begin_evaluation, end_evaluation, evaluation_figures, with_measured
from engine.models.seg_model import build_segmentation_model
from engine.runtime import Runtime
from engine.tasks.base import TASKS, class_set_digest, files_digest, set_paths
from engine.tasks.check_summary import MODEL_SUMMARIES, summarise
from engine.tasks.seg_inference import predictions_at, slide_logits
from engine.tasks.supervised import SupervisedTask, checked_classes

IGNORE_MASK = MaskLabels.IGNORE  # stored value of unlabelled pixels, whatever the files use


class SegmentationTask(SupervisedTask):
    """Trains a backbone + decoder head with a per-pixel loss; evaluates mIoU on every test set.

    Masks are kept as uint8 with IGNORE_MASK for unlabelled pixels; batches hand the loss int64 targets
    with IGNORE_INDEX there.
    """

    main_metric = "mIoU"
    task_name = "segmentation"

    def __init__(
        self,
        cfg: dict[str, Any],
        runtime: Runtime,
        generator: torch.Generator,
        classes: list[str] | None = None,
        ignore_index: int = 255,
    ) -> None:
        super().__init__(cfg, runtime, generator)
        if cfg["augment"]["name"] not in PAIR_AUGMENTS:  # checked before the data is read
            raise ConfigError(
                "augment.name",
                f"'{cfg['augment']['name']}' cannot move masks with their images; "
                f"segmentation allows: {', '.join(PAIR_AUGMENTS.names())}",
            )
        data = cfg["data"]
        self.class_names = segmentation_classes(self.plan.classes(), Path(data["root"] or "."))
        num_classes = len(self.class_names)
        check_ignore_index(ignore_index, num_classes)
        self.ignore_index = ignore_index
        self.plan.options.classes = self.class_names
        self._build_loss_and_augment(num_classes)
        self.geometry = (
            CropGeometry(tuple(data["train_resize"]), tuple(data["scale_range"]))
            if data.get("train_resize")
            else None
        )
        train = self.plan.train_index()
        self.test_sets = [(name, self._eval_items(index, name)) for name, index in self.plan.test_indexes()]
        self.model = build_segmentation_model(cfg["model"], num_classes)
        self._finish_setup(self._train_items(train) if train is not None else None)

    def metric_order(self) -> list[str]:
        return ["mIoU", "pixel_acc", *(f"IoU/{name}" for name in self.class_names)]

    def fingerprints(self) -> dict[str, dict[str, Any]]:
        """How each set is measured: its files, image count, class set, ignore index, eval size or window."""
        if self._fingerprints is not None:  # the sets never change during a run
            return self._fingerprints
        folders, window = set_paths(self.cfg), self.cfg["eval"].get("window")
        self._fingerprints = {
            name: {
                "set": name,
                "files_sha256": files_digest([items.images, items.masks], folders.get(name, "")),
                "images": len(items),
                "classes": len(self.class_names),
                "class_set_sha256": class_set_digest(self.class_names),
                "ignore_index": self.ignore_index,
                **({"window": size_text(window)} if window else {"eval_size": size_text(self.eval_size)}),
            }
            for name, items in self.test_sets
        }
        return self._fingerprints

    def _train_items(self, index: MaskIndex) -> MaskItems:
        """Training samples at model.image_size: resized (and cached when small), or random crops of large images."""
        if self.geometry is not None:
            if self.plan.cache_mode == "memmap":
                raise ConfigError(
                    "data.cache",
                    "memmap caches images at one size, but data.train_resize crops "
                    "each image at a random scale: use data.cache=off",
                )
            return MaskItems(index.images, index.masks, self.image_size, self.image_size, self.geometry)
        return MaskItems(
            index.images,
            index.masks,
            self.image_size,
            self.image_size,
            image_store=self.plan.image_store(index.images, self.image_size, "train"),
            mask_store=self.plan.mask_store(index.masks, self.image_size, "train masks"),
        )

    def _eval_items(self, index: MaskIndex, name: str) -> MaskItems:
        """Test samples: images at eval.image_size, each mask at its own resolution (scores are computed there)."""
        store = self.plan.image_store(index.images, self.eval_size, name)
        return MaskItems(index.images, index.masks, self.eval_size, None, image_store=store)

    def _build_augment(self, section: dict[str, Any]) -> Any:
        return PAIR_AUGMENTS.build(section["name"], **preset_params(section))

    def _augment(self, images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Joint geometry for images and masks, colour on images; masks -> int64 targets with IGNORE_INDEX."""
        images, masks = self.augment.pair(images, masks, self.generator)
        targets = masks.long()
        return images, targets.masked_fill_(targets == IGNORE_MASK, IGNORE_INDEX)

    def _logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of normalised images: one pass, or sliding windows of eval.window."""
        window = self.cfg["eval"].get("window")
        if not window:
            return self.model(images).float()
        return slide_logits(lambda crop: self.model(crop).float(), images, tuple(window))

    @torch.no_grad()
    def evaluate(self) -> dict[str, dict[str, float]]:
        """Confusion matrix over each test set at each label's own resolution, then mIoU, pixel_acc, IoU/<class>,
        then what the model's modules measured over the pass (engine.models.aux_outputs).

        With eval.figures on, also draws overlays of a few sample images and the confusion matrix per test set.
        """
        results = {}
        figures = FigureSettings.of(self.cfg)
        self.model.eval()
        for name, items in self.test_sets:
            confusion = ConfusionMatrix(len(self.class_names), IGNORE_MASK, self.runtime.device)
            wanted = set(sample_indices(len(items), figures.samples).tolist()) if figures.enabled else set()
            samples: list[OverlaySample] = []
            begin_evaluation(self.model)
            for batch in self.ordered(items):
                with self.runtime.autocast():
                    logits = self._logits(self.normalise(batch.images.float().div_(255)))
                masks = batch.targets
                predictions: Any  # as the masks: B×H×W, or a list of each label at its own size
                if isinstance(masks, torch.Tensor):  # every label of the batch has the same size
                    masks = masks.to(logits.device)
                    predictions = predictions_at(logits, tuple(masks.shape[-2:]))
                    confusion.update(predictions, masks)
                else:
                    masks = [mask.to(logits.device) for mask in masks]
                    predictions = [
                        predictions_at(one[None], tuple(m.shape))[0] for one, m in zip(logits, masks)
                    ]
                    for prediction, mask in zip(predictions, masks):
                        confusion.update(prediction, mask)
                samples += _overlay_samples(wanted, batch.indices, batch.images, masks, predictions)
            measured = end_evaluation(self.model)
            results[name] = with_measured(segmentation_metrics(confusion.counts, self.class_names), measured)
            if figures.enabled:
                self.figures.extend(self._figures_of(name, samples, confusion.counts, results[name]))
                self.figures.extend(evaluation_figures(self.model, name))
        self.model.train()
        return results

    def _figures_of(
        self, split: str, samples: list[OverlaySample], counts: torch.Tensor, metrics: dict[str, float]
    ) -> list[Figure]:
        """Overlays of the sample images and the confusion matrix the metrics were computed from."""
        confusion = render_confusion(split, counts.cpu().numpy(), self.class_names, "pixels")
        if not samples:  # an empty test set
            return [confusion]
        score = f"mIoU {metrics['mIoU']:.1f}%"
        return [render_overlays(split, samples, self.class_names, IGNORE_MASK, score), confusion]


SAMPLE_HEIGHT = 160
"""Pixels of height a sample image is kept at for the overlay figure (the figure shows it smaller)."""


def _overlay_samples(
    wanted: set[int], indices: torch.Tensor, images: torch.Tensor, masks: Any, predictions: Any
) -> list[OverlaySample]:
    """The batch's items among the `wanted` sample indices, shrunk to thumbnails at once (a Cityscapes image at
    full size is not kept)."""
    kept = []
    for position, index in enumerate(indices.tolist()):
        if index not in wanted:
            continue
        image = images[position].permute(1, 2, 0).cpu().numpy()
        height, width = image.shape[:2]
        size = (min(height, SAMPLE_HEIGHT), max(1, round(width * min(height, SAMPLE_HEIGHT) / height)))
        image = np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BILINEAR))
        target = shrink_labels(masks[position].cpu().numpy(), size)
        prediction = shrink_labels(predictions[position].cpu().numpy(), size)
        kept.append(OverlaySample(index, image, target, prediction))
    return kept


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
            raise ConfigError(
                "task.classes",
                f"required: the class names in mask-index order (or a classes.json list in {root})",
            )
    return checked_classes(classes, "class names")


@TASKS.register("segmentation", "Semantic segmentation")
def build_segmentation_task(
    cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator
) -> SegmentationTask:
    """Build the segmentation task from a resolved config; task.classes and task.ignore_index are its keys."""
    return SegmentationTask(cfg, runtime, generator, **preset_params(cfg["task"]))


@MODEL_SUMMARIES.register("segmentation")
def segmentation_summary(cfg: dict[str, Any]) -> dict[str, Any]:
    """Parameter table and logits size of the configured segmentation model; the data set is indexed, not read."""
    data = cfg["data"]
    report = data_report(with_every_set(cfg))
    names = segmentation_classes(
        cfg["task"].get("classes") or report["classes"], Path(data["root"] or "."), data["synthetic"]
    )
    model = build_segmentation_model(cfg["model"], len(names))
    height, width = model.image_size
    scales = ", ".join(
        f"{c}@{s}"
        for c, s in zip(
            [t.channels for t in model.taps] + [model.backbone.out_channels],
            [t.stride for t in model.taps] + [model.backbone.stride],
        )
    )
    output = (
        f"logits: {len(names)} classes × {height}×{width} (head at stride {model.head.out_stride}, "
        f"upsampled)   backbone scales (channels@stride): {scales}"
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
