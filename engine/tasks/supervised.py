"""What segmentation and classification share: labelled images streamed by workers, shuffled batches, a logit loss.

Not a task itself (it registers nothing): `SegmentationTask` and `ClassificationTask` derive from it and
supply the data, the model and the per-batch metric.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from engine.core.config import preset_params
from engine.core.config.eval_sets import with_every_set
from engine.core.errors import ConfigError
from engine.data.loading import DataPlan
from engine.data.samples import Batch
from engine.data.shuffle_sampler import ShuffleBatchSampler
from engine.data.stream import BatchStream, ordered_batches, pin_for
from engine.freeze import enforce_norm_eval
from engine.losses import LOSSES, check_inputs
from engine.losses.logits import LOGIT_LOSSES
from engine.models.aux_outputs import aux_weights, prepare_modules, with_auxiliary
from engine.runtime import Runtime
from engine.tasks.base import SampledTask
from engine.tasks.vpr import MEAN, STD

PREPARE_IMAGES = 128
"""Training images a module's `prepare(sample_images)` hook is given (enough patches for k-means of a few keys)."""


class SupervisedTask(SampledTask):
    """Trains a model whose outputs are class logits against per-image or per-pixel targets.

    Subclasses call `_build_loss_and_augment(num_classes)` as soon as they know the classes (config
    mistakes surface before any image is read), set `model`, then call `_finish_setup(train_items)` with the
    training items (a dataset of the training split, or None for an evaluation-only run without one); they
    implement `_build_augment`, `_augment` and `evaluate`.
    """

    task_name = ""

    def __init__(self, cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator) -> None:
        self.cfg, self.runtime, self.generator = cfg, runtime, generator
        self.image_size = tuple(cfg["model"]["image_size"])
        self.eval_size = tuple(cfg["eval"]["image_size"])
        self.plan = DataPlan(with_every_set(cfg), runtime.world_size, runtime.notify)

    def _build_loss_and_augment(self, num_classes: int) -> None:
        """The loss (checked to take logits) and the training augmentation."""
        loss_cfg = self.cfg["loss"]
        self.loss_name = loss_cfg["name"]
        self.aux_weights = aux_weights(loss_cfg)
        self.loss = LOSSES.build(loss_cfg["name"], num_classes, num_classes, **preset_params(loss_cfg))
        check_inputs(self.loss, "logits", self.task_name, [*LOGIT_LOSSES, "mix"])
        self.augment = self._build_augment(self.cfg["augment"])

    def _finish_setup(self, train_items: Any) -> None:
        """Sampler and stream over the training items, and model and loss on the device."""
        cfg = self.cfg
        if train_items is not None:
            batch_size = cfg["train"]["batch_size"]
            self.train_size = len(train_items)
            if batch_size > self.train_size:
                raise ConfigError(
                    "train.batch_size",
                    f"{batch_size} images per batch, but the training set has only {self.train_size}",
                )
            self.train_items = train_items
            self.sampler = ShuffleBatchSampler(self.train_size, batch_size, cfg["train"]["seed"])
            self.stream = BatchStream(
                train_items, self.sampler, self.plan.workers(train_items.cached), pin_for(self.runtime.device)
            )
        self.model = self.model.to(self.runtime.device)
        if self.runtime.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss = self.loss.to(self.runtime.device)

    def modules(self) -> dict[str, nn.Module]:
        return {**self.model.module_groups(), "loss": self.loss}

    def parameters(self) -> Iterator[nn.Parameter]:
        for module in self.modules().values():
            yield from (p for p in module.parameters() if p.requires_grad)

    def prepare(self) -> None:
        """Data-dependent initialisation of the model's modules that ask for it (see `prepare_modules`)."""
        self.prepare_modules()

    def prepare_modules(self) -> None:
        """Hand the first PREPARE_IMAGES training images (file order, normalised, on the device) to every module
        of the model with a `prepare(sample_images)` hook (PCE's k-means router keys).

        Runs at every start, a resume included: a module whose preparation is saved with its weights (a flag
        in its state, as NetVLAD's `initialised`) skips it then. Reads no image when no module asks.
        """
        if self.stream is None:
            return

        def first_images() -> torch.Tensor:
            batches = self.ordered(self.train_items, min(self.train_size, PREPARE_IMAGES), 64)
            return torch.cat([self.normalise(b.images.float().div_(255)) for b in batches])

        prepare_modules(self.model, first_images)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """B×3×H×W float in [0, 1] -> normalised, on the device (ImageNet statistics, as timm expects)."""
        return self.runtime.to_device((images - MEAN) / STD)

    def _build_augment(self, section: dict[str, Any]) -> Any:
        """The training augmentation a resolved `augment` section names."""
        raise NotImplementedError

    def _augment(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training augmentation of a batch (images in [0, 1]); targets as the loss takes them."""
        raise NotImplementedError

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.next_stream_batch()
        images, targets = self._augment(batch.images.float().div_(255), batch.targets)  # B×3×H×W in [0, 1]
        return self.normalise(images), targets.to(self.runtime.device)

    def compute_loss(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        self.model.train()
        if self.freeze_phase is not None:
            enforce_norm_eval(self.modules(), self.freeze_phase)  # frozen BatchNorms keep their running stats
        loss = self.loss(self.model(images), labels)
        parts = getattr(self.loss, "last_components", None) or {self.loss_name: loss.detach()}
        logged = {f"loss/{name}": value for name, value in parts.items()}
        return with_auxiliary(self.model, loss, logged, self.aux_weights)  # what the model's modules report

    def ordered(self, items: Any, count: int | None = None, batch_size: int | None = None) -> Iterator[Batch]:
        """Items in file order, in evaluation batches, read by the workers (none when they come from the cache)."""
        return ordered_batches(
            items,
            batch_size or self.cfg["eval"]["batch_size"],
            self.plan.workers(items.cached),
            pin_for(self.runtime.device),
            count,
        )

    @torch.no_grad()
    def predict(self, items: Any) -> Iterator[tuple[Batch, torch.Tensor]]:
        """(batch, logits) over every item of a test set, model in eval mode; only the current batch is held."""
        self.model.eval()
        for batch in self.ordered(items):
            with self.runtime.autocast():
                yield batch, self.model(self.normalise(batch.images.float().div_(255))).float()

    def evaluate(self) -> dict[str, dict[str, float]]:
        raise NotImplementedError


def checked_classes(classes: Any, what: str) -> list[str]:
    """`classes` when it is a list of at least 2 distinct non-empty names; else a ConfigError at task.classes."""
    if (
        not isinstance(classes, list)
        or len(classes) < 2
        or not all(isinstance(c, str) and c for c in classes)
        or len(set(classes)) != len(classes)
    ):
        raise ConfigError("task.classes", f"expected a list of at least 2 distinct {what}, got {classes!r}")
    return classes
