"""Streamed batches: the same with 0 or 2 workers, exact resume, disjoint DDP shards, clear errors, the cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.core.errors import UserError
from engine.data.formats import DATA_FORMATS, FormatOptions
from engine.data.image_store import ImageStore
from engine.data.loading import DataPlan
from engine.data.path_table import PathTable
from engine.data.place_sampler import PlaceBatchSampler
from engine.data.samples import CropGeometry, ImageItems, MaskItems
from engine.data.shuffle_sampler import ShuffleBatchSampler
from engine.data.sources import FileImages
from engine.data.stream import BatchStream, DataLoadingError, ordered_batches
from tests.data.fixtures_seg_formats import write_cityscapes

SIZE = (24, 32)


def city_items(small_city: Path) -> ImageItems:
    places = DATA_FORMATS.build("gmberton").read(small_city, "train", FormatOptions())
    return ImageItems(places.images, SIZE, places.places)


def place_stream(items: ImageItems, workers: int, seed: int = 0) -> BatchStream:
    return BatchStream(items, PlaceBatchSampler(items.targets, 8, 2, seed), workers)


def take(stream: BatchStream, count: int) -> list:
    batches = [next(stream) for _ in range(count)]
    stream.close()
    return batches


def assert_same(first: list, second: list) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second):
        assert torch.equal(a.images, b.images) and torch.equal(a.indices, b.indices)
        assert torch.equal(a.targets, b.targets)


def test_same_batches_with_0_and_2_workers(small_city: Path) -> None:
    items = city_items(small_city)
    in_process, with_workers = take(place_stream(items, 0), 6), take(place_stream(items, 2), 6)
    assert_same(in_process, with_workers)
    first = in_process[0]
    assert first.images.shape == (16, 3, *SIZE) and first.images.dtype == torch.uint8
    assert torch.equal(first.targets, torch.from_numpy(items.targets[first.indices.numpy()]))


def test_random_crops_depend_on_the_seed_not_on_the_workers(tmp_path: Path) -> None:
    expected = write_cityscapes(tmp_path)
    index = DATA_FORMATS.build("cityscapes").read(expected.root, "train", FormatOptions())
    items = MaskItems(index.images, index.masks, (8, 8), (8, 8), CropGeometry((16, 32), (0.5, 1.5)))

    def stream(workers: int, seed: int) -> BatchStream:
        return BatchStream(items, ShuffleBatchSampler(len(items), 2, seed), workers)

    in_process, with_workers = take(stream(0, 1), 4), take(stream(2, 1), 4)
    assert_same(in_process, with_workers)
    assert in_process[0].targets.shape == (2, 8, 8)
    other_seed = take(stream(0, 2), 4)
    assert any(not torch.equal(a.images, b.images) for a, b in zip(in_process, other_seed))


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_gives_the_next_unseen_batch(small_city: Path, workers: int) -> None:
    items = city_items(small_city)
    straight = take(place_stream(items, workers), 7)
    first = place_stream(items, workers)
    for _ in range(3):
        next(first)  # the workers have read further ahead than this
    state = first.state_dict()
    first.close()
    resumed = place_stream(items, workers)
    resumed.load_state_dict(state)
    assert_same(take(resumed, 4), straight[3:])


def test_ddp_shards_are_disjoint_and_complete(small_city: Path) -> None:
    items = city_items(small_city)
    whole = place_stream(items, 0)
    per_epoch = whole.sampler.batches_per_epoch
    shards = []
    for rank in range(2):
        stream = place_stream(items, 1)
        stream.sampler.shard(rank, 2)
        shards.append(take(stream, per_epoch // 2))
    unsharded = take(whole, 2 * (per_epoch // 2))
    seen = [b.indices for pair in zip(*shards) for b in pair]
    assert [b.indices.tolist() for b in unsharded] == [s.tolist() for s in seen]
    rank0 = {int(i) for b in shards[0] for i in b.indices}
    rank1 = {int(i) for b in shards[1] for i in b.indices}
    assert not rank0 & rank1  # each place (and so each image) belongs to one batch of the epoch


@pytest.mark.parametrize("workers", [0, 2])
def test_an_unreadable_image_names_the_file(tmp_path: Path, workers: int) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    paths = []
    for i in range(6):
        path = folder / f"{i}.jpg"
        Image.fromarray(np.full((10, 10, 3), i * 20, np.uint8)).save(path)
        paths.append(path)
    paths[4].write_bytes(b"not a jpeg at all")
    items = ImageItems(FileImages(PathTable.of(folder, paths)), (8, 8))
    with pytest.raises(UserError, match=r"cannot read image .*4\.jpg"):
        list(ordered_batches(items, 2, workers))


def test_a_dying_worker_is_a_clear_error_naming_the_files(
    small_city: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = city_items(small_city)

    def crash(self: FileImages, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        os._exit(9)  # what a segfault in a decoder or the OOM killer looks like from the main process

    monkeypatch.setattr(FileImages, "read", crash)  # forked workers inherit the patch
    with pytest.raises(DataLoadingError, match=r"worker died while reading .*@.*\.jpg.*data\.workers=0"):
        next(place_stream(items, 1))


def test_ordered_batches_keep_file_order(small_city: Path) -> None:
    items = city_items(small_city)
    indices = torch.cat([b.indices for b in ordered_batches(items, 7, 2, count=30)])
    assert indices.tolist() == list(range(30))


def test_cache_is_built_once_outside_the_data_and_follows_file_changes(
    small_city: Path, tmp_path: Path
) -> None:
    cfg = {
        "task": {"name": "vpr"},
        "train": {"max_steps": 1},
        "data": {
            "root": str(small_city),
            "train_dir": "train",
            "cache": "memmap",
            "cache_dir": str(tmp_path),
            "workers": 0,
        },
        "eval": {"test_sets": []},
    }
    messages: list[str] = []
    plan = DataPlan(cfg, notify=lambda phase, message: messages.append(message))
    source = plan.train_index().images
    store = plan.image_store(source, SIZE, "train")
    assert store is not None and store.path.parent == tmp_path and store.array.shape == (320, 3, *SIZE)
    assert (
        messages[0] == "caching 0 / 320 images (train)" and messages[-1] == "caching 320 / 320 images (train)"
    )
    direct = np.stack([source.read(i, SIZE).transpose(2, 0, 1) for i in (5, 2, 300)])
    np.testing.assert_array_equal(store.rows(np.array([5, 2, 300])), direct)
    messages.clear()
    assert plan.image_store(source, SIZE, "train").path == store.path and not messages  # reused, not rebuilt
    assert not [p for p in small_city.rglob("*.npy")]
    changed = source.paths[3]
    os.utime(changed, ns=(1, 1))
    assert plan.image_store(plan.train_index().images, SIZE, "train").path != store.path
    cfg["data"]["cache"] = "off"
    assert DataPlan(cfg).image_store(source, SIZE, "train") is None


def test_store_rows_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "s.npy"
    np.save(path, np.arange(5 * 3 * 2 * 2, dtype=np.uint8).reshape(5, 3, 2, 2))
    store = ImageStore(path)
    np.testing.assert_array_equal(store.rows(np.array([4, 0, 4, 2])), np.load(path)[[4, 0, 4, 2]])
