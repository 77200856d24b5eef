"""What the training loop needs from a task, and the task registry (one entry per problem)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch import nn

from engine.core.config.eval_sets import with_every_set
from engine.core.errors import ConfigError
from engine.core.protocol.fingerprints import digest
from engine.core.registry import Registry
from engine.data.samples import Batch
from engine.data.stream import BatchStream
from engine.figures import Figure

TASKS = Registry("task", "task.name")


class Task(Protocol):
    """A problem (VPR, segmentation, ...): supplies batches, the loss and evaluate(); the loop stays generic."""

    main_metric: str
    model: nn.Module
    freeze_phase: Any

    def modules(self) -> dict[str, nn.Module]:
        """Named module groups (backbone, aggregator, head, loss): param groups and the parameter table."""

    def parameters(self) -> Iterator[nn.Parameter]:
        """Every trainable parameter (for gradient clipping)."""

    def prepare(self) -> None:
        """Data-dependent initialisation before the first step (e.g. NetVLAD k-means)."""

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next training batch, augmented, normalised and on the device."""

    def compute_loss(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and its logged parts: components as `loss/<name>`, any other key (a model's auxiliary
        scalars, `routing/entropy`) under its own chart group; the trainer averages and logs every key."""

    def evaluate(self) -> dict[str, dict[str, float]]:
        """Metrics per test split (the task's own, then what the model's modules measured: see
        engine.models.aux_outputs)."""

    def main_score(self, results: dict[str, dict[str, float]]) -> float | None:
        """The number best.pt is chosen by (higher is better)."""

    def metric_order(self) -> list[str]:
        """Every metric an evaluation reports, in reading order (run.json publishes it: readers never guess)."""

    def steps_per_epoch(self) -> float:
        """Optimizer steps in one pass over the training set (freeze phases given in epochs use it)."""

    def epoch(self, step: int) -> float:
        """Passes over the training set after `step` steps."""

    def state_dict(self) -> dict[str, Any]:
        """Model weights plus data-order state."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore state_dict()."""

    def close(self) -> None:
        """Release what the task holds beyond memory (data loading workers)."""


def task_fingerprints(task: Task) -> dict[str, dict[str, Any]]:
    """How each evaluated set is measured (engine.core.protocol.fingerprints); {} for a task that cannot say."""
    fingerprints = getattr(task, "fingerprints", None)
    return fingerprints() if fingerprints is not None else {}


def set_paths(cfg: dict[str, Any]) -> dict[str, str]:
    """Evaluated set name -> its folder (validation and test sets)."""
    return {str(entry["name"]): str(entry["path"]) for entry in with_every_set(cfg)["eval"]["test_sets"]}


def files_digest(sources: list[Any], under: str) -> str:
    """The digest of the sorted file list of `sources` (ImageSource, LabelFiles) relative to the set's folder."""
    names: list[str] = []
    for source in sources:
        paths = getattr(source, "paths", None)
        if paths is not None:
            names += [os.path.relpath(str(paths[i]), under) for i in range(len(paths))]
        else:  # records (CIFAR batches): what describes each item
            names += [source.describe(i) for i in range(len(source))]
    return digest(names)


def class_set_digest(classes: list[str]) -> str:
    """The digest of the class names in index order (the order gives each index its meaning)."""
    return digest(f"{index:05d} {name}" for index, name in enumerate(classes))


def taken_figures(task: Task) -> list[Figure]:
    """The qualitative figures the task's last evaluate() drew, handed over once. Drawing them is optional: a
    task without `take_figures()` (or with eval.figures off) has none."""
    take = getattr(task, "take_figures", None)
    return take() if take is not None else []


class SampledTask:
    """What the tasks built here share: a training set of `train_size` items drawn by `sampler` and read by
    `stream` (DataLoader workers), the best checkpoint chosen by `main_metric` on the first validation set, and a
    resumable data order.

    Subclasses set `cfg`, `model`, `loss`, `generator`, and (when the run has training data) `sampler`,
    `stream` and `train_size`. An evaluation-only run without training data has no stream.
    """

    main_metric = ""
    freeze_phase: Any = None
    cfg: dict[str, Any]
    model: nn.Module
    loss: nn.Module
    generator: torch.Generator
    sampler: Any = None
    stream: BatchStream | None = None
    train_size = 0

    _figures: list[Figure] | None = None
    _fingerprints: dict[str, dict[str, Any]] | None = None

    @property
    def figures(self) -> list[Figure]:
        """Figures drawn by evaluate() since the trainer last took them."""
        if self._figures is None:
            self._figures = []
        return self._figures

    def take_figures(self) -> list[Figure]:
        taken, self._figures = self.figures, []
        return taken

    def metric_order(self) -> list[str]:
        return [self.main_metric]

    def main_score(self, results: dict[str, dict[str, float]]) -> float | None:
        """`main_metric` on the first evaluated set: the first validation set, else the first test set (None before
        any evaluation)."""
        if not results:
            return None
        return next(iter(results.values())).get(self.main_metric)

    def steps_per_epoch(self) -> float:
        return max(self.train_size, 1) / self.cfg["train"]["batch_size"]

    def epoch(self, step: int) -> float:
        return round(step * self.cfg["train"]["batch_size"] / max(self.train_size, 1), 3)

    def next_stream_batch(self) -> Batch:
        """The next training batch as read by the workers (uint8 images, targets, indices)."""
        if self.stream is None:
            raise ConfigError(
                "train.max_steps",
                "this run has no training data (an evaluation-only run); set "
                "data.root to a data set with a training split to train",
            )
        return next(self.stream)

    def close(self) -> None:
        """Stop the data loading workers."""
        if self.stream is not None:
            self.stream.close()

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "loss": self.loss.state_dict(),
            "sampler": self.sampler.state_dict() if self.sampler is not None else None,
            "augment_rng": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.loss.load_state_dict(state["loss"])
        if self.stream is not None and state.get("sampler") is not None:
            self.stream.load_state_dict(state["sampler"])
        self.generator.set_state(state["augment_rng"])
