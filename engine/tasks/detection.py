"""Object detection: COCO JSON / YOLO txt / Pascal VOC boxes, torchvision detectors over any backbone, COCO mAP.

Images are letterboxed to model.image_size in the workers (aspect kept, grey padding); targets travel as a
B×M×5 tensor of (class, x1, y1, x2, y2) rows padded with class -1, so box-aware augmentations (mosaic, mixup,
affine, HSV, flip) work on whole batches in the training process and the no-augmentation tail or a steered
probability takes effect at the very next step. mAP is computed in letterboxed pixels: a uniform scale and
shift changes no IoU.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from engine.core.config import preset_params
from engine.core.config.eval_sets import with_every_set
from engine.core.errors import ConfigError
from engine.core.protocol.fingerprints import size_text
from engine.data.box_augment import BOX_AUGMENTS
from engine.data.box_items import BoxItems
from engine.data.formats import BoxIndex
from engine.data.loading import DataPlan, data_report
from engine.data.samples import Batch
from engine.data.shuffle_sampler import ShuffleBatchSampler
from engine.data.stream import BatchStream, ordered_batches, pin_for
from engine.figures import FigureSettings, sample_indices
from engine.figures.detections import DetectionSample, render_detections
from engine.freeze import enforce_norm_eval
from engine.metrics.detection import DetectionScores, detection_metric_order
from engine.models.aux_outputs import (
    aux_weights,
    begin_evaluation,
    end_evaluation,
    evaluation_figures,
    prepare_modules,
    with_auxiliary,
    with_measured,
)
from engine.models.det_model import box_targets, build_detection_model, detection_output_text
from engine.runtime import Runtime
from engine.tasks.base import TASKS, SampledTask, class_set_digest, files_digest, set_paths
from engine.tasks.check_summary import MODEL_SUMMARIES, summarise
from engine.tasks.supervised import PREPARE_IMAGES, checked_classes
from engine.tasks.vpr import MEAN, STD

#: The loss preset of detection runs: each detector brings its own losses (classification, box regression,
#: centerness or objectness), logged one by one.
DETECTOR_LOSS = "detector"


class DetectionTask(SampledTask):
    """Trains a torchvision detector (FCOS, RetinaNet, Faster R-CNN) over an FPN on a registered backbone."""

    main_metric = "mAP"

    def __init__(self, cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator) -> None:
        self.cfg, self.runtime, self.generator = cfg, runtime, generator
        check_detection_config(cfg)
        self.image_size = tuple(cfg["model"]["image_size"])
        self.eval_size = tuple(cfg["eval"]["image_size"])
        self.plan = DataPlan(with_every_set(cfg), runtime.world_size, runtime.notify)
        self.class_names = detection_classes(self.plan.classes(), bool(cfg["data"].get("synthetic")))
        self.plan.options.classes = self.class_names
        section = cfg["augment"]
        self.augment = BOX_AUGMENTS.build(section["name"], **preset_params(section))
        self.aux_weights = aux_weights(cfg["loss"])
        self.loss = nn.Module()  # the detector computes its losses; kept for the shared checkpoint layout
        train = self.plan.train_index()
        self.test_sets = [(name, BoxItems(index, self.eval_size)) for name, index in self.plan.test_indexes()]
        self.model = build_detection_model(cfg["model"], len(self.class_names))
        self.apply_eval_settings(cfg["eval"])
        if train is not None:
            self._stream_training(train)
        self.model = self.model.to(runtime.device)
        if runtime.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def _stream_training(self, index: BoxIndex) -> None:
        batch_size = self.cfg["train"]["batch_size"]
        self.train_items = BoxItems(index, self.image_size)
        self.train_size = len(self.train_items)
        if batch_size > self.train_size:
            raise ConfigError(
                "train.batch_size",
                f"{batch_size} images per batch, but the training set has only {self.train_size}",
            )
        self.sampler = ShuffleBatchSampler(self.train_size, batch_size, self.cfg["train"]["seed"])
        self.stream = BatchStream(
            self.train_items, self.sampler, self.plan.workers(False), pin_for(self.runtime.device)
        )

    def apply_eval_settings(self, section: dict[str, Any]) -> None:
        """Score threshold, NMS IoU and detections per image: evaluation settings, so `labconsole eval` re-scores a
        checkpoint at others."""
        self.model.set_postprocess(
            float(section["score_threshold"]), float(section["nms_iou"]), int(section["max_detections"])
        )

    # -- what the loop asks ---------------------------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        return dict(self.model.module_groups())

    def parameters(self) -> Iterator[nn.Parameter]:
        return (p for p in self.model.parameters() if p.requires_grad)

    def prepare(self) -> None:
        """Hand the first training images to every module with a `prepare(sample_images)` hook (PCE's router
        keys), as the other tasks do; reads nothing when no module asks."""
        if self.stream is None:
            return

        def first_images() -> torch.Tensor:
            count = min(self.train_size, PREPARE_IMAGES)
            batches = ordered_batches(
                self.train_items, 64, self.plan.workers(False), pin_for(self.runtime.device), count
            )
            return torch.cat([self.normalise(b.images.float().div_(255)) for b in batches])

        prepare_modules(self.model, first_images)

    def metric_order(self) -> list[str]:
        return detection_metric_order(self.class_names)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """B×3×H×W float in [0, 1] -> normalised, on the device (ImageNet statistics, as timm expects)."""
        return self.runtime.to_device((images - MEAN) / STD)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.next_stream_batch()
        images, targets = self.augment.boxes(batch.images.float().div_(255), batch.targets, self.generator)
        return self.normalise(images), targets.to(self.runtime.device)

    def compute_loss(
        self, images: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        self.model.train()
        if self.freeze_phase is not None:
            enforce_norm_eval(self.modules(), self.freeze_phase)  # frozen BatchNorms keep their running stats
        losses = self.model(images, box_targets(targets))
        total = torch.stack(list(losses.values())).sum()
        parts = {f"loss/{name}": value.detach() for name, value in losses.items()}
        return with_auxiliary(self.model, total, parts, self.aux_weights)  # what the model's modules report

    @torch.no_grad()
    def evaluate(self) -> dict[str, dict[str, float]]:
        """COCO mAP@[.5:.95], mAP50, mAP75 and AP per class on every test set; with eval.figures on, also the
        same few images per set with their ground truth and detections."""
        results = {}
        figures = FigureSettings.of(self.cfg)
        self.model.eval()
        for name, items in self.test_sets:
            scores = DetectionScores(self.class_names)
            wanted = set(sample_indices(len(items), figures.samples).tolist()) if figures.enabled else set()
            samples: list[DetectionSample] = []
            begin_evaluation(self.model)
            for batch in self._ordered(items):
                with self.runtime.autocast():
                    predictions = self.model(self.normalise(batch.images.float().div_(255)))
                truths = box_targets(batch.targets)
                scores.update(predictions, truths)
                samples += _kept_samples(wanted, batch, truths, predictions)
            results[name] = with_measured(scores.compute(), end_evaluation(self.model))
            if figures.enabled and samples:
                headline = (
                    f"mAP {results[name].get('mAP', 0.0):.1f}, mAP50 {results[name].get('mAP50', 0.0):.1f}"
                )
                self.figures.append(render_detections(name, samples, self.class_names, headline))
            if figures.enabled:
                self.figures.extend(evaluation_figures(self.model, name))
        self.model.train()
        return results

    def _ordered(self, items: BoxItems) -> Iterator[Batch]:
        return ordered_batches(
            items, self.cfg["eval"]["batch_size"], self.plan.workers(False), pin_for(self.runtime.device)
        )

    def fingerprints(self) -> dict[str, dict[str, Any]]:
        """How each set is measured: its files, images, boxes, class set, resolution and the scoring settings."""
        if self._fingerprints is not None:
            return self._fingerprints
        folders, evaluation = set_paths(self.cfg), self.cfg["eval"]
        self._fingerprints = {
            name: {
                "set": name,
                "files_sha256": files_digest([items.index.images], folders.get(name, "")),
                "images": len(items),
                "boxes": items.index.num_boxes,
                "classes": len(self.class_names),
                "class_set_sha256": class_set_digest(self.class_names),
                "eval_size": size_text(self.eval_size),
                "score_threshold": evaluation["score_threshold"],
                "nms_iou": evaluation["nms_iou"],
            }
            for name, items in self.test_sets
        }
        return self._fingerprints


def _kept_samples(
    wanted: set[int],
    batch: Batch,
    truths: list[dict[str, torch.Tensor]],
    predictions: list[dict[str, torch.Tensor]],
) -> list[DetectionSample]:
    """The batch's images among the `wanted` sample indices, with their boxes, as numpy (the batch is let go)."""
    kept = []
    for position, index in enumerate(batch.indices.tolist()):
        if index in wanted:
            truth, found = truths[position], predictions[position]
            kept.append(
                DetectionSample(
                    index,
                    batch.images[position].permute(1, 2, 0).cpu().numpy(),
                    truth["boxes"].cpu().numpy(),
                    truth["labels"].cpu().numpy(),
                    found["boxes"].float().cpu().numpy(),
                    found["labels"].cpu().numpy(),
                    found["scores"].float().cpu().numpy(),
                )
            )
    return kept


def check_detection_config(cfg: dict[str, Any]) -> None:
    """What only detection requires, checked before any file is read: its loss and a box-aware augmentation."""
    if cfg["loss"]["name"] != DETECTOR_LOSS:
        raise ConfigError(
            "loss",
            f"'{cfg['loss']['name']}' is not a detection loss; detection trains with the detector's own "
            f"losses: loss: {DETECTOR_LOSS}",
        )
    if cfg["augment"]["name"] not in BOX_AUGMENTS:
        raise ConfigError(
            "augment.name",
            f"'{cfg['augment']['name']}' cannot move boxes with their images; detection allows: "
            f"{', '.join(BOX_AUGMENTS.names())}",
        )


def detection_classes(classes: list[str] | None, synthetic: bool) -> list[str]:
    """Class names: task.classes, else the data set's, else (synthetic data still to make) the generator's."""
    if classes is None and synthetic:
        from engine.data.synth_det_scene import CLASSES

        classes = list(CLASSES)
    if classes is None:
        raise ConfigError(
            "task.classes", "required: the class names in label order (the data set names none)"
        )
    return checked_classes(classes, "class names")


@TASKS.register("detection", "Object detection")
def build_detection_task(cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator) -> DetectionTask:
    """Build the detection task from a resolved config; task.classes is its key."""
    return DetectionTask(cfg, runtime, generator)


@MODEL_SUMMARIES.register("detection")
def detection_summary(cfg: dict[str, Any]) -> dict[str, Any]:
    """Parameter table and outputs of the configured detector; the data set is indexed, not read."""
    check_detection_config(cfg)
    report = data_report(with_every_set(cfg))
    names = detection_classes(cfg["task"].get("classes") or report["classes"], bool(cfg["data"]["synthetic"]))
    model = build_detection_model(cfg["model"], len(names))
    return summarise(
        cfg,
        model.module_groups(),
        f"{len(names)} classes   {detection_output_text(model)}",
        report["train_images"],
        classes=names,
        data=report,
        backbone_channels=model.backbone.out_channels,
        backbone_stride=model.backbone.stride,
    )
