"""Visual place recognition: place-balanced batches, metric-learning loss, Recall@N by k-NN within a UTM radius."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.config import preset_params
from engine.data.augment import AUGMENTS
from engine.data.place_sampler import PlaceBatchSampler
from engine.data.vpr_folders import load_test_set, load_train_places
from engine.errors import ConfigError
from engine.feature_cache import FeatureCache, cache_key, weights_fingerprint
from engine.freeze import enforce_norm_eval
from engine.losses import LOSSES
from engine.losses.base import check_inputs
from engine.losses.logits import LOGIT_LOSSES
from engine.metrics.recall import knn, positives_within, recall_at
from engine.models.aggregator_init import initialise_aggregator
from engine.models.vpr_model import build_vpr_model
from engine.runtime import Runtime
from engine.tasks.base import TASKS, SampledTask

# ImageNet statistics: timm backbones expect them, and the plain CNN does not care.
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def to_chw(images: np.ndarray) -> torch.Tensor:
    """uint8 N×H×W×3 or N×3×H×W numpy -> uint8 N×3×H×W tensor (kept uint8 until batching: 4× less memory)."""
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    return tensor.permute(0, 3, 1, 2).contiguous() if tensor.shape[-1] == 3 else tensor


class VPRTask(SampledTask):
    """Trains descriptors so that views of the same place are nearest neighbours; evaluates Recall@N per test set."""

    main_metric = "R@1"

    def __init__(self, cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator,
                 load_test_sets: bool = True) -> None:
        self.cfg, self.runtime, self.generator = cfg, runtime, generator
        data, model_cfg, train = cfg["data"], cfg["model"], cfg["train"]
        places = load_train_places(Path(data["root"]) / data["train_dir"], tuple(model_cfg["image_size"]),
                                   data["place_cell_m"])
        self.train_images = to_chw(places.images)  # N×3×H×W uint8
        self.train_labels = torch.as_tensor(places.labels, dtype=torch.long)
        self.num_places = int(places.num_places)
        if self.num_places < train["places_per_batch"]:
            raise ConfigError("train.places_per_batch", f"{train['places_per_batch']} places per batch, but the "
                                                        f"training set has only {self.num_places} places")
        self.sampler = PlaceBatchSampler(places.labels, train["places_per_batch"], train["images_per_place"],
                                         train["seed"])
        self._batches: Iterator[Any] = iter(self.sampler)
        self.model = build_vpr_model(model_cfg).to(runtime.device)
        if runtime.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        loss_cfg = cfg["loss"]
        self.loss_name = loss_cfg["name"]
        self.loss = build_vpr_loss(loss_cfg, self.model.descriptor_dim, self.num_places).to(runtime.device)
        self.augment = AUGMENTS.build(cfg["augment"]["name"], **preset_params(cfg["augment"]))
        self.cache = self._feature_cache() if use_feature_cache(cfg) else None
        self.test_sets = [load_test_set(Path(t["path"]), tuple(cfg["eval"]["image_size"]))
                          for t in cfg["eval"]["test_sets"]] if load_test_sets else []
        self.test_names = [t["name"] for t in cfg["eval"]["test_sets"]]

    def modules(self) -> dict[str, nn.Module]:
        return {**self.model.module_groups(), "loss": self.loss}

    def parameters(self) -> Iterator[nn.Parameter]:
        for module in self.modules().values():
            yield from (p for p in module.parameters() if p.requires_grad)

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 B×3×H×W -> normalised float on the device."""
        return self.runtime.to_device((images.float().div_(255) - MEAN) / STD)

    def _feature_cache(self) -> FeatureCache:
        """Backbone features of every training image, shared by all runs with the same backbone weights and data."""
        for module in (self.model.backbone,):
            module.requires_grad_(False)
        data = self.cfg["data"]
        key = cache_key({"weights": weights_fingerprint(self.model.backbone), "backbone": self.cfg["model"]["backbone"],
                         "size": self.cfg["model"]["image_size"], "train": str(Path(data["root"]) / data["train_dir"]),
                         "count": len(self.train_images)})
        folder = Path(os.environ.get("LABCONSOLE_CACHE", Path.home() / ".cache" / "labconsole" / "features"))
        return FeatureCache.build(folder, self.model.backbone, self.train_images, self._prepare,
                                  self.cfg["eval"]["batch_size"], key)

    def prepare(self) -> None:
        """Data-dependent initialisation (NetVLAD centres by k-means) from the first training images.

        Reads images in file order, not through the sampler, so the training data order is unchanged.
        """
        if self.cache is None:
            batches = (self._prepare(self.train_images[i:i + 64]) for i in range(0, min(len(self.train_images), 1280), 64))
            initialise_aggregator(self.model, batches, seed=self.cfg["train"]["seed"])

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        indices = torch.as_tensor(np.asarray(next(self._batches)), dtype=torch.long)
        if self.cache is not None:
            features = self.cache.batch(indices.numpy()).to(self.runtime.device)  # B×C×h×w, no backbone pass
            return features, self.train_labels[indices].to(self.runtime.device)
        images = self.train_images[indices].float().div_(255)  # B×3×H×W in [0, 1]
        images = self.augment(images, self.generator)
        return self.runtime.to_device((images - MEAN) / STD), self.train_labels[indices].to(self.runtime.device)

    def compute_loss(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
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
        return loss, {f"loss/{name}": value for name, value in parts.items()}

    @torch.no_grad()
    def describe(self, images: np.ndarray) -> np.ndarray:
        """Descriptors (N×D float32) of uint8 images, in evaluation batches."""
        self.model.eval()
        batch_size = self.cfg["eval"]["batch_size"]
        tensor = to_chw(images)
        out = []
        for start in range(0, len(tensor), batch_size):
            batch = tensor[start:start + batch_size].float().div_(255)
            with self.runtime.autocast():
                out.append(self.model(self.runtime.to_device((batch - MEAN) / STD)).float().cpu())
        return torch.cat(out).numpy().astype(np.float32) if out else np.zeros((0, self.model.descriptor_dim), np.float32)

    def evaluate(self) -> dict[str, dict[str, float]]:
        """gmberton protocol: k-NN of each query among the database; correct at N if a positive is in the top N."""
        ev = self.cfg["eval"]
        results = {}
        for name, test in zip(self.test_names, self.test_sets):
            predictions = knn(self.describe(test.database_images), self.describe(test.query_images), max(ev["recall_at"]))
            positives = positives_within(test.database_utm, test.query_utm, ev["positive_radius_m"])
            results[name] = recall_at(predictions, positives, ev["recall_at"])
        self.model.train()
        return results


def build_vpr_loss(loss_cfg: dict[str, Any], descriptor_dim: int, num_places: int) -> nn.Module:
    """The configured loss, checked to train on descriptors (a logit loss such as `ce` is a ConfigError)."""
    loss = LOSSES.build(loss_cfg["name"], descriptor_dim, num_places, **preset_params(loss_cfg))
    check_inputs(loss, "descriptors", "vpr", [n for n in LOSSES.names() if n not in LOGIT_LOSSES])
    return loss


def use_feature_cache(cfg: dict[str, Any]) -> bool:
    """Whether training can read cached backbone features: the backbone never trains, inputs are deterministic."""
    setting = cfg["train"]["feature_cache"]
    eligible = cfg["freeze"]["name"] == "frozen_backbone" and cfg["augment"]["name"] == "none"
    if setting == "on" and not eligible:
        raise ConfigError("train.feature_cache", "needs freeze: frozen_backbone and augment: none (features must "
                                                 "be the same every epoch)")
    return setting == "on" or setting == "auto" and eligible


@TASKS.register("vpr", "Visual place recognition")
def build_vpr_task(cfg: dict[str, Any], runtime: Runtime, generator: torch.Generator) -> VPRTask:
    """Build the VPR task from a resolved config."""
    return VPRTask(cfg, runtime, generator)
