"""How a run reads its data: the formats found, the training and test indexes, workers and the decoded cache.

The tasks ask this for indexes (paths and labels, never pixels), for the cache store of an image list
when the run uses one, and for the number of DataLoader workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.errors import ConfigError
from engine.data.formats import FormatOptions, describe_index, find_format, has_training_data, test_split
from engine.data.image_store import AUTO_CACHE_BYTES, ImageStore, default_cache_dir
from engine.data.samples import ArrayRows
from engine.data.sources import ImageSource, LabelFiles
from engine.data.stream import ordered_batches

Notify = Callable[[str, str], None]  # (phase, message): progress the monitor shows


def _quiet(phase: str, message: str) -> None:
    """No one to tell (tests, benchmarks)."""


class DataPlan:
    """The data side of one run, from its resolved config."""

    def __init__(self, cfg: dict[str, Any], processes: int = 1, notify: Notify | None = None) -> None:
        self.cfg, self.processes, self.notify = cfg, processes, notify or _quiet
        data = cfg["data"]
        self.task = cfg["task"]["name"]
        self.options = FormatOptions.from_config(cfg)
        self.cache_mode = data.get("cache", "auto")
        self.cache_dir = Path(data["cache_dir"]) if data.get("cache_dir") else default_cache_dir()
        self.workers_setting = int(data.get("workers", -1))
        self.root = Path(data["root"]) if data["root"] else None
        self.trains = has_training_data(cfg)
        self.train_format = (
            find_format(self.task, data.get("format", "auto"), self.root or Path("."), data["train_dir"])
            if self.trains
            else None
        )
        self.summaries: dict[str, str] = {}

    # -- indexes ------------------------------------------------------------------------------------------------
    def train_index(self) -> Any:
        """The training split's index, or None for an evaluation-only run without training data."""
        if self.train_format is None or self.root is None:
            return None
        index = self.train_format.read(self.root, self.cfg["data"]["train_dir"], self.options)
        self.summaries["train"] = f"{self.train_format.title}: {describe_index(index)}"
        return index

    def classes(self) -> list[str] | None:
        """Class names from the config, else from the training format (or the first test set's)."""
        if self.options.classes is not None:
            return self.options.classes
        if self.train_format is not None and self.root is not None:
            return self.train_format.classes(self.root, self.options)
        for entry in self.cfg["eval"]["test_sets"]:
            chosen = find_format(
                self.task, entry.get("format") or "auto", Path(entry["path"]), entry.get("split")
            )
            return chosen.classes(Path(entry["path"]), self.options)
        return None

    def test_indexes(self, options: FormatOptions | None = None) -> list[tuple[str, Any]]:
        """(name, index) of every test set, each in its own (detected) format."""
        found = []
        for entry in self.cfg["eval"]["test_sets"]:
            path = Path(entry["path"])
            chosen = find_format(
                self.task,
                entry.get("format") or "auto",
                path,
                entry.get("split"),
                key="eval.test_sets.format",
            )
            index = chosen.read(path, test_split(chosen, entry), options or self.options)
            self.summaries[entry["name"]] = f"{chosen.title}: {describe_index(index)}"
            found.append((entry["name"], index))
        return found

    # -- reading ------------------------------------------------------------------------------------------------
    def workers(self, cached: bool) -> int:
        """DataLoader workers: data.workers, or auto: none for cached sets (a memmap read costs microseconds),
        else a share of this machine's cores per training process, leaving one for the training loop."""
        if self.workers_setting >= 0:
            return self.workers_setting
        if cached:
            return 0
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, min(8, cores // max(self.processes, 1) - 1))

    def uses_cache(self, count: int, item_bytes: int, cacheable: bool) -> bool:
        """Whether to cache a set of `count` items of `item_bytes` each (data.cache)."""
        if not cacheable or count == 0:
            return False
        if self.cache_mode == "memmap":
            return True
        return self.cache_mode == "auto" and count * item_bytes <= AUTO_CACHE_BYTES

    def image_store(self, source: ImageSource, size: tuple[int, int], label: str) -> ImageStore | None:
        """The cached (N, 3, H, W) copy of `source` at `size` when the run caches it (built on first use)."""
        shape = (3, *size)
        if not self.uses_cache(len(source), int(np.prod(shape)), source.cacheable):
            return None
        path = ImageStore.path_for(self.cache_dir, "images", shape, source.fingerprint())

        def read(i: int) -> np.ndarray:
            return source.read(i, size).transpose(2, 0, 1)

        return self._store(path, len(source), shape, ArrayRows(len(source), read, source.describe), label)

    def mask_store(self, masks: LabelFiles, size: tuple[int, int], label: str) -> ImageStore | None:
        """The cached (N, H, W) class-index copy of `masks` at `size` (nearest), when the run caches it."""
        if not self.uses_cache(len(masks), int(np.prod(size)), True):
            return None
        path = ImageStore.path_for(self.cache_dir, "masks", tuple(size), masks.fingerprint())
        rows = ArrayRows(len(masks), lambda i: masks.read(i, size), masks.describe)
        return self._store(path, len(masks), tuple(size), rows, label)

    def _store(
        self, path: Path, count: int, shape: tuple[int, ...], rows: ArrayRows, label: str
    ) -> ImageStore:
        def batches() -> Iterator[tuple[int, np.ndarray]]:
            for batch in ordered_batches(rows, 64, self.workers(cached=False)):
                yield int(batch.indices[0]), batch.images.numpy()

        def progress(done: int, total: int) -> None:
            self.notify("caching", f"caching {done:,} / {total:,} images ({label})")

        return ImageStore.open_or_build(path, count, shape, batches, progress)


def check_batch_fits(count: int, batch: int, key: str, unit: str) -> None:
    """A training set must hold at least one batch."""
    if batch > count:
        raise ConfigError(key, f"{batch} {unit} per batch, but the training set has only {count}")


def data_report(cfg: dict[str, Any]) -> dict[str, Any]:
    """What `labconsole check` says about the data: the format found, a summary line, training images and class
    names (when the data is there; the synthetic demo sets are made on first use)."""
    data = cfg["data"]
    root = Path(data["root"]) if data["root"] else None
    if data.get("synthetic") and (root is None or not root.exists()):
        return {
            "line": f"synthetic {cfg['task']['name']} data, made at {root} on first use",
            "train_images": None,
            "classes": None,
            "test_sets": {},
        }
    plan = DataPlan(cfg)
    report: dict[str, Any] = {"line": "", "train_images": None, "classes": None, "test_sets": {}}
    if plan.train_format is not None and root is not None:
        report["format"] = plan.train_format.name
        report["line"] = plan.train_format.summary(root, plan.options)
        report["train_images"] = len(plan.train_index().images)
    if plan.task != "vpr":
        report["classes"] = plan.classes()
        plan.options.classes = report["classes"]
    for name, _index in plan.test_indexes():
        report["test_sets"][name] = plan.summaries[name]
    return report
