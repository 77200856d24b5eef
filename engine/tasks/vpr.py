"""Visual place recognition: place-balanced batches, metric-learning loss, Recall@N by k-NN within a UTM radius."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.core.config import preset_params
from engine.core.config.eval_sets import with_every_set
from engine.core.errors import ConfigError
from engine.core.protocol.fingerprints import size_text
from engine.data.augment import AUGMENTS
from engine.data.cosplace_groups import CosPlaceClasses, CosPlaceSettings, cosplace_classes, parse_headings
from engine.data.formats import PlaceIndex, RetrievalIndex
from engine.data.loading import DataPlan, data_report
from engine.data.place_sampler import ClassBatchSampler, PlaceBatchSampler
from engine.data.samples import ImageItems
from engine.data.stream import BatchStream, ordered_batches, pin_for
from engine.feature_cache import FeatureCache, FeatureItems, cache_key, weights_fingerprint
from engine.figures import FigureSettings, sample_indices
from engine.figures.retrievals import render_retrievals, retrievals_of
from engine.freeze import enforce_norm_eval
from engine.losses import LOSSES
from engine.losses.base import check_inputs, takes_one_image_per_class
from engine.losses.logits import LOGIT_LOSSES
from engine.metrics.recall import knn, positives_within, recall_at
from engine.models.aggregator_init import initialise_aggregator
from engine.models.vpr_model import build_vpr_model
from engine.runtime import Runtime
from engine.tasks.base import TASKS, SampledTask, files_digest, set_paths
from engine.tasks.check_summary import MODEL_SUMMARIES, summarise

# ImageNet statistics: timm backbones expect them, and the plain CNN does not care.
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


class VPRTask(SampledTask):
    """Trains descriptors so that views of the same place are nearest neighbours; evaluates Recall@N per test set."""

    main_metric = "R@1"

    def __init__(
        self, cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator, load_test_sets: bool = True
    ) -> None:
        self.cfg, self.runtime, self.generator = cfg, runtime, generator
        model_cfg, train = cfg["model"], cfg["train"]
        self.plan = DataPlan(with_every_set(cfg), runtime.world_size, runtime.notify)
        self.image_size = tuple(model_cfg["image_size"])
        places = self.plan.train_index()
        self.num_places = places.num_places if places is not None else 1
        loss_cfg = cfg["loss"]
        self.cosplace = CosPlaceSettings.of(loss_cfg)
        self.classes: CosPlaceClasses | None = None
        if places is not None and self.cosplace is not None:
            if runtime.world_size > 1:
                raise ConfigError(
                    "device.processes",
                    "CosPlace groups train on one process (a group switch changes the set of trained "
                    "classifiers, which DDP cannot follow yet); set device.processes: 1",
                )
            self.classes = training_classes(places, self.cosplace, train["batch_size"])
            self.plan.summaries["cosplace"] = self.classes.describe(self.cosplace)  # run.json + output.log
        self.model = build_vpr_model(model_cfg).to(runtime.device)
        if runtime.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss_name = loss_cfg["name"]
        num_classes = self.classes.group_sizes if self.classes is not None else self.num_places
        self.loss = build_vpr_loss(loss_cfg, self.model.descriptor_dim, num_classes).to(runtime.device)
        one_per_class = check_batch_layout(self.loss, train)
        if places is not None and self.classes is None:
            check_enough_places(self.num_places, train, one_per_class)
        self.augment = AUGMENTS.build(cfg["augment"]["name"], **preset_params(cfg["augment"]))
        self.cache: FeatureCache | None = None
        if places is not None:
            labels = self.classes.labels if self.classes is not None else places.places
            self._train_items = ImageItems(
                places.images,
                self.image_size,
                labels,
                self.plan.image_store(places.images, self.image_size, "train"),
            )
            self.train_size = len(places.images)
            self.sampler = self._sampler(labels, one_per_class)
            self.cache = self._feature_cache() if use_feature_cache(cfg) else None
            items = FeatureItems(self.cache, labels) if self.cache is not None else self._train_items
            self.stream = BatchStream(
                items, self.sampler, self.plan.workers(items.cached), pin_for(runtime.device)
            )
        eval_size = tuple(cfg["eval"]["image_size"])
        self.test_sets = (
            [(name, self._test_items(index, eval_size, name)) for name, index in self.plan.test_indexes()]
            if load_test_sets
            else []
        )

    def _sampler(self, labels: np.ndarray, one_per_class: bool) -> PlaceBatchSampler | ClassBatchSampler:
        """P places × K images for pair losses; one image of each of B classes for classification losses, from
        one CosPlace group at a time when there are groups."""
        train = self.cfg["train"]
        if not one_per_class:
            return PlaceBatchSampler(
                labels, train["places_per_batch"], train["images_per_place"], train["seed"]
            )
        if self.classes is None:
            return ClassBatchSampler(labels, train["batch_size"], train["seed"])
        assert self.cosplace is not None
        return ClassBatchSampler(
            labels,
            train["batch_size"],
            train["seed"],
            self.classes.group_sizes,
            self.cosplace.iterations_per_group,
        )

    def steps_per_epoch(self) -> float:
        """With CosPlace groups an epoch is CosPlace's: `iterations_per_group` steps on one group."""
        if self.cosplace is not None:
            return float(self.cosplace.iterations_per_group)
        return super().steps_per_epoch()

    def epoch(self, step: int) -> float:
        if self.cosplace is not None:
            return round(step / self.cosplace.iterations_per_group, 3)
        return super().epoch(step)

    def _test_items(
        self, index: RetrievalIndex, size: tuple[int, int], name: str
    ) -> tuple[ImageItems, ImageItems, np.ndarray, np.ndarray]:
        """Database and query items (read at eval size, cached like the training set when small) and positions."""
        database = ImageItems(
            index.database, size, store=self.plan.image_store(index.database, size, f"{name} database")
        )
        queries = ImageItems(
            index.queries, size, store=self.plan.image_store(index.queries, size, f"{name} queries")
        )
        return database, queries, index.database_utm, index.query_utm

    def metric_order(self) -> list[str]:
        return [f"R@{n}" for n in self.cfg["eval"]["recall_at"]]

    def fingerprints(self) -> dict[str, dict[str, Any]]:
        """How each set is measured: its files, counts, queries no database image can answer, radius, resolution."""
        if self._fingerprints is None:  # the sets never change during a run
            ev, folders = self.cfg["eval"], set_paths(self.cfg)
            self._fingerprints = {}
            for name, (database, queries, database_utm, query_utm) in self.test_sets:
                positives = positives_within(database_utm, query_utm, ev["positive_radius_m"])
                self._fingerprints[name] = {
                    "set": name,
                    "files_sha256": files_digest([database.source, queries.source], folders.get(name, "")),
                    "database": len(database_utm),
                    "queries": len(query_utm),
                    "queries_without_positive": sum(1 for found in positives if len(found) == 0),
                    "radius_m": ev["positive_radius_m"],
                    "resolution": size_text(ev["image_size"]),
                    "descriptor_dim": int(self.model.descriptor_dim),
                }
        return self._fingerprints

    def modules(self) -> dict[str, nn.Module]:
        return {**self.model.module_groups(), "loss": self.loss}

    def parameters(self) -> Iterator[nn.Parameter]:
        for module in self.modules().values():
            yield from (p for p in module.parameters() if p.requires_grad)

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 B×3×H×W -> normalised float on the device."""
        return self.runtime.to_device((images.float().div_(255) - MEAN) / STD)

    def _ordered(
        self, items: ImageItems, count: int | None = None, batch_size: int | None = None
    ) -> Iterator[Any]:
        """Items in file order, read by the workers (none when they come from the cache)."""
        return ordered_batches(
            items,
            batch_size or self.cfg["eval"]["batch_size"],
            self.plan.workers(items.cached),
            pin_for(self.runtime.device),
            count,
        )

    def _feature_cache(self) -> FeatureCache:
        """Backbone features of every training image, shared by all runs with the same backbone weights and data."""
        self.model.backbone.requires_grad_(False)
        data = self.cfg["data"]
        key = cache_key(
            {
                "weights": weights_fingerprint(self.model.backbone),
                "backbone": self.cfg["model"]["backbone"],
                "size": self.cfg["model"]["image_size"],
                "train": str(Path(data["root"]) / data["train_dir"]),
                "count": self.train_size,
            }
        )
        folder = Path(os.environ.get("LABCONSOLE_CACHE", Path.home() / ".cache" / "labconsole" / "features"))
        batches = (self._prepare(batch.images) for batch in self._ordered(self._train_items))
        return FeatureCache.build(folder, self.model.backbone, batches, self.train_size, key)

    def prepare(self) -> None:
        """Data-dependent initialisation (NetVLAD centres by k-means) from the first training images.

        Reads images in file order, not through the sampler, so the training data order is unchanged.
        """
        if self.cache is None and self.stream is not None:
            batches = (
                self._prepare(b.images)
                for b in self._ordered(self._train_items, min(self.train_size, 1280), 64)
            )
            initialise_aggregator(self.model, batches, seed=self.cfg["train"]["seed"])

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.next_stream_batch()
        labels = batch.targets.to(self.runtime.device)
        if self.cache is not None:
            return batch.images.to(self.runtime.device), labels  # B×C×h×w cached features, no backbone pass
        images = self.augment(batch.images.float().div_(255), self.generator)  # B×3×H×W in [0, 1]
        return self.runtime.to_device((images - MEAN) / STD), labels

    def compute_loss(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        self.model.train()
        if self.freeze_phase is not None:
            enforce_norm_eval(self.modules(), self.freeze_phase)  # frozen BatchNorms keep their running stats
        if self.cache is not None:
            self.model.backbone.eval()
            descriptors = self.model.descriptors_from_features(images)  # `images` are cached features here
        else:
            descriptors = self.model(images)  # B×D, L2-normalised
        loss = self.loss(descriptors.float(), labels)
        parts = getattr(self.loss, "last_components", None) or {self.loss_name: loss.detach()}
        logged = {f"loss/{name}": value for name, value in parts.items()}
        if self.classes is not None:  # the CosPlace group this step trained (position in training order)
            logged["cosplace/group"] = torch.tensor(float(getattr(self.loss, "last_group", 0)))
        return loss, logged

    @torch.no_grad()
    def describe(self, items: ImageItems) -> np.ndarray:
        """Descriptors (N×D float32) of every item, in evaluation batches; only descriptors are kept."""
        self.model.eval()
        out = []
        for batch in self._ordered(items):
            with self.runtime.autocast():
                out.append(self.model(self._prepare(batch.images)).float().cpu())
        return (
            torch.cat(out).numpy().astype(np.float32)
            if out
            else np.zeros((0, self.model.descriptor_dim), np.float32)
        )

    def evaluate(self) -> dict[str, dict[str, float]]:
        """gmberton protocol: k-NN of each query among the database; correct at N if a positive is in the top N.

        With eval.figures on, also draws the top-k retrievals of a few sample queries per test set.
        """
        ev = self.cfg["eval"]
        figures = FigureSettings.of(self.cfg)
        neighbours = max(max(ev["recall_at"]), figures.top_k if figures.enabled else 0)
        results = {}
        for name, (database, queries, database_utm, query_utm) in self.test_sets:
            predictions = knn(self.describe(database), self.describe(queries), neighbours)
            positives = positives_within(database_utm, query_utm, ev["positive_radius_m"])
            results[name] = recall_at(predictions, positives, ev["recall_at"])
            if figures.enabled and len(predictions) and predictions.shape[1]:
                retrievals = retrievals_of(
                    sample_indices(len(predictions), figures.samples),
                    predictions,
                    positives,
                    database_utm,
                    query_utm,
                    figures.top_k,
                )
                self.figures.append(
                    render_retrievals(
                        name,
                        retrievals,
                        queries.source.read,
                        database.source.read,
                        tuple(ev["image_size"]),
                        ev["positive_radius_m"],
                    )
                )
        self.model.train()
        return results


def build_vpr_loss(loss_cfg: dict[str, Any], descriptor_dim: int, num_places: int | list[int]) -> nn.Module:
    """The configured loss, checked to train on descriptors (a logit loss such as `ce` is a ConfigError).

    `num_places`: the classes of the training set, or of each CosPlace group in training order.
    """
    loss = LOSSES.build(loss_cfg["name"], descriptor_dim, num_places, **preset_params(loss_cfg))
    check_inputs(loss, "descriptors", "vpr", [n for n in LOSSES.names() if n not in LOGIT_LOSSES])
    return loss


def training_classes(places: PlaceIndex, settings: CosPlaceSettings, batch_size: int) -> CosPlaceClasses:
    """The CosPlace classes and groups of the training images: UTM from the index, headings from the names."""
    if places.utm is None:
        raise ConfigError(
            "loss.cosplace", "CosPlace classes need UTM positions; this training set's format has none"
        )
    paths = getattr(places.images, "paths", None)
    headings = parse_headings(paths.names() if paths is not None else [""] * len(places.images))
    return cosplace_classes(places.utm, headings, settings, batch_size)


def check_batch_layout(loss: nn.Module, train: dict[str, Any]) -> bool:
    """Whether batches hold one image per class (classification losses); pair losses need 2+ per place."""
    if takes_one_image_per_class(loss):
        return True
    if train["images_per_place"] < 2:
        raise ConfigError(
            "train.images_per_place",
            f"{getattr(loss, 'name', 'this loss')} learns from pairs of images of one place: at least 2 per "
            f"place (the classification losses cosface and arcface take 1)",
        )
    return False


def check_enough_places(num_places: int, train: dict[str, Any], one_per_class: bool) -> None:
    """A batch draws distinct places: places_per_batch of them, or batch_size with one image each."""
    needed, what = (
        (train["batch_size"], "distinct places (one image each)")
        if one_per_class
        else (train["places_per_batch"], "places")
    )
    if num_places < needed:
        raise ConfigError(
            "train.places_per_batch",
            f"a batch of {needed} {what}, but the training set has only {num_places} places",
        )


def use_feature_cache(cfg: dict[str, Any]) -> bool:
    """Whether training can read cached backbone features: the backbone never trains, inputs are deterministic."""
    setting = cfg["train"]["feature_cache"]
    eligible = cfg["freeze"]["name"] == "frozen_backbone" and cfg["augment"]["name"] == "none"
    if setting == "on" and not eligible:
        raise ConfigError(
            "train.feature_cache",
            "needs freeze: frozen_backbone and augment: none (features must be the same every epoch)",
        )
    return setting == "on" or (setting == "auto" and eligible)


@MODEL_SUMMARIES.register("vpr")
def vpr_summary(cfg: dict[str, Any]) -> dict[str, Any]:
    """Parameter table of the configured VPR model and its descriptor; the data set is indexed, not read."""
    model = build_vpr_model(cfg["model"])
    # The class count only sizes margin losses (one class count per group with CosPlace groups).
    classes = 2 if CosPlaceSettings.of(cfg["loss"]) is None else [2]
    check_batch_layout(build_vpr_loss(cfg["loss"], model.descriptor_dim, classes), cfg["train"])
    report = data_report(with_every_set(cfg))
    settings = CosPlaceSettings.of(cfg["loss"])
    if settings is not None and report["train_images"]:  # the classes and groups, checked against the batch
        places = DataPlan(with_every_set(cfg)).train_index()
        classes = training_classes(places, settings, cfg["train"]["batch_size"])
        report["line"] += f"\nclasses: {classes.describe(settings)}"
    output = (
        f"descriptor: {model.descriptor_dim}-d   backbone output: {model.backbone.out_channels} channels, "
        f"stride {model.backbone.stride}"
    )
    return summarise(
        cfg,
        model.module_groups(),
        output,
        report["train_images"],
        data=report,
        descriptor_dim=model.descriptor_dim,
        backbone_channels=model.backbone.out_channels,
        backbone_stride=model.backbone.stride,
    )


@TASKS.register("vpr", "Visual place recognition")
def build_vpr_task(cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator) -> VPRTask:
    """Build the VPR task from a resolved config."""
    return VPRTask(cfg, runtime, generator)
