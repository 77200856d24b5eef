"""Published classification formats (CIFAR-10/100 binary, Tiny-ImageNet) read back from tiny fixtures."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.core.errors import ConfigError, UserError
from engine.data.formats import DATA_FORMATS, FormatOptions, LabelIndex, find_format
from engine.data.formats.cifar import CifarRecords
from tests.data.fixtures_cls_formats import (
    TINY_WORDS,
    CifarFixture,
    TinyFixture,
    write_cifar10,
    write_cifar100,
    write_image_folder,
    write_tiny_imagenet,
)

OPTIONS = FormatOptions()


@pytest.fixture
def cifar10(tmp_path: Path) -> CifarFixture:
    return write_cifar10(tmp_path)


@pytest.fixture
def cifar100(tmp_path: Path) -> CifarFixture:
    return write_cifar100(tmp_path)


@pytest.fixture
def tiny(tmp_path: Path) -> TinyFixture:
    return write_tiny_imagenet(tmp_path)


def read(name: str, root: Path, split: str | None, options: FormatOptions = OPTIONS) -> LabelIndex:
    return DATA_FORMATS.build(name).read(root, split, options)


# -- CIFAR ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, write", [("cifar10", write_cifar10), ("cifar100", write_cifar100)])
@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("from_parent", [True, False])
def test_cifar_records_read_back_exactly(
    tmp_path: Path, name: str, write, split: str, from_parent: bool
) -> None:
    fixture = write(tmp_path)
    index = read(name, tmp_path if from_parent else fixture.folder, split)
    expected = fixture.splits[split]
    assert index.labels.dtype == np.int64 and index.labels.tolist() == expected.labels
    assert len(index.images) == len(expected.images)
    for i, image in enumerate(expected.images):
        pixels = index.images.read(i)
        assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8
        np.testing.assert_array_equal(pixels, image)  # R, G, B planes -> HWC
        assert index.images.describe(i) == expected.files[i]


def test_cifar_class_names(cifar10: CifarFixture, cifar100: CifarFixture, tmp_path: Path) -> None:
    # names stripped, blank lines skipped
    assert DATA_FORMATS.build("cifar10").classes(tmp_path, OPTIONS) == cifar10.classes
    names = DATA_FORMATS.build("cifar100").classes(cifar100.folder, OPTIONS)
    assert len(names) == 100 and names[:2] == ["apple", "aquarium_fish"] and names[-1] == "worm"


def test_cifar100_uses_the_fine_label_not_the_coarse(cifar100: CifarFixture) -> None:
    index = read("cifar100", cifar100.folder, "train")
    assert index.labels.tolist() == [0, 99, 55, 17, 42]


def test_cifar_resize_is_pil_bilinear(cifar10: CifarFixture) -> None:
    images = read("cifar10", cifar10.folder, "train").images
    resized = images.read(2, (48, 40))
    expected = Image.fromarray(cifar10.splits["train"].images[2]).resize((40, 48), Image.Resampling.BILINEAR)
    assert resized.shape == (48, 40, 3) and resized.dtype == np.uint8
    np.testing.assert_array_equal(resized, np.asarray(expected))
    np.testing.assert_array_equal(images.read(2, (32, 32)), cifar10.splits["train"].images[2])


def test_cifar_records_are_not_cached_and_fingerprint_follows_the_files(cifar10: CifarFixture) -> None:
    images = read("cifar10", cifar10.folder, "test").images
    assert isinstance(images, CifarRecords) and images.cacheable is False
    before = images.fingerprint()
    assert images.fingerprint() == before
    path = cifar10.folder / "test_batch.bin"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert images.fingerprint() != before


def test_cifar_task_classes_pick_and_reorder(cifar10: CifarFixture) -> None:
    index = read("cifar10", cifar10.folder, "train", FormatOptions(classes=["cat", "airplane"]))
    train = cifar10.splits["train"]
    kept = [i for i, label in enumerate(train.labels) if label in (3, 0)]
    assert index.labels.tolist() == [0 if train.labels[i] == 3 else 1 for i in kept]
    for position, i in enumerate(kept):
        np.testing.assert_array_equal(index.images.read(position), train.images[i])
    with pytest.raises(ConfigError, match=r"task.classes.*'kat' is not a CIFAR-10 class.*'cat'"):
        read("cifar10", cifar10.folder, "train", FormatOptions(classes=["kat"]))


def test_cifar_summary(cifar10: CifarFixture, cifar100: CifarFixture, tmp_path: Path) -> None:
    assert (
        DATA_FORMATS.build("cifar10").summary(tmp_path, OPTIONS)
        == "CIFAR-10: 9 train / 3 test images, 10 classes"
    )
    assert (
        DATA_FORMATS.build("cifar100").summary(tmp_path, OPTIONS)
        == "CIFAR-100: 5 train / 2 test images, 100 classes"
    )


def test_cifar_default_test_split() -> None:
    assert DATA_FORMATS.build("cifar10").default_test_split == "test"
    assert DATA_FORMATS.build("cifar100").default_test_split == "test"


def test_cifar_missing_meta_file_is_named(cifar10: CifarFixture) -> None:
    (cifar10.folder / "batches.meta.txt").unlink()
    with pytest.raises(UserError, match=r"batches\.meta\.txt not found"):
        read("cifar10", cifar10.folder, "train")
    with pytest.raises(UserError, match=r"batches\.meta\.txt"):  # auto: the layout it lists names the file
        find_format("classification", "auto", cifar10.folder, "train")


def test_cifar_truncated_file_is_named(cifar10: CifarFixture) -> None:
    path = cifar10.folder / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(UserError, match=r"data_batch_3\.bin is 9,119 bytes, not a whole number of 3,073-"):
        read("cifar10", cifar10.folder, "train")


def test_cifar_missing_batch_is_named(cifar10: CifarFixture) -> None:
    (cifar10.folder / "data_batch_4.bin").unlink()
    with pytest.raises(UserError, match=r"data_batch_4\.bin not found"):
        read("cifar10", cifar10.folder, "train")


def test_cifar_label_beyond_the_names_is_named(cifar10: CifarFixture) -> None:
    path = cifar10.folder / "test_batch.bin"
    data = bytearray(path.read_bytes())
    data[3073] = 10  # record 1's label
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"test_batch\.bin record 1 has label 10, but batches\.meta\.txt"):
        read("cifar10", cifar10.folder, "test")


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_unknown_split(tmp_path: Path, name: str) -> None:
    write_cifar10(tmp_path)
    write_cifar100(tmp_path)
    with pytest.raises(UserError, match=r"no split 'val': allowed: train, test"):
        read(name, tmp_path, "val")


def test_cifar_wrong_folder_names_the_layout(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no CIFAR-10 files in .*cifar-10-batches-bin/ \(or its parent\)"):
        read("cifar10", tmp_path, "train")


def read_in_child(_: int) -> tuple[np.ndarray, bool]:
    """Runs in a forked child: reads from the source the parent had already opened."""
    pixels = FORKED.read(1)
    return pixels, FORKED._pid == os.getpid()


FORKED: CifarRecords


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_cifar_records_read_after_fork(cifar10: CifarFixture) -> None:
    global FORKED
    FORKED = read("cifar10", cifar10.folder, "train").images
    first = FORKED.read(1)  # maps the file in this process before forking
    with multiprocessing.get_context("fork").Pool(1) as pool:
        pixels, remapped = pool.map(read_in_child, [0])[0]
    np.testing.assert_array_equal(pixels, first)
    np.testing.assert_array_equal(pixels, cifar10.splits["train"].images[1])
    assert remapped  # the child mapped the file itself


def test_cifar_records_pickle_without_their_mapping(cifar10: CifarFixture) -> None:
    images = read("cifar10", cifar10.folder, "train").images
    images.read(0)
    copy = pickle.loads(pickle.dumps(images))
    assert len(pickle.dumps(images)) < 2000  # file names and arrays, not the mapped records
    np.testing.assert_array_equal(copy.read(8), cifar10.splits["train"].images[8])


# -- Tiny-ImageNet -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("from_parent", [True, False])
def test_tiny_imagenet_train_and_val(tiny: TinyFixture, from_parent: bool) -> None:
    root = tiny.folder.parent if from_parent else tiny.folder
    for split, expected in (("train", tiny.train), ("val", tiny.val)):
        index = read("tiny_imagenet", root, split)
        described = [index.images.describe(i) for i in range(len(index.images))]
        assert described == [str(tiny.folder / path) for path, _ in expected]
        assert index.labels.dtype == np.int64 and index.labels.tolist() == [label for _, label in expected]


def test_tiny_imagenet_classes_are_sorted_wnids_named_by_first_lemma(tiny: TinyFixture) -> None:
    assert tiny.wnids == ["n01443537", "n03444034", "n04067472"]
    assert DATA_FORMATS.build("tiny_imagenet").classes(tiny.folder, OPTIONS) == tiny.classes
    assert tiny.classes == ["goldfish", "go-kart", "reel"]


def test_tiny_imagenet_shared_lemmas_get_the_wnid(tiny: TinyFixture) -> None:
    words = dict(TINY_WORDS, n03444034="reel, kart")
    (tiny.folder / "words.txt").write_text("".join(f"{wnid}\t{lemmas}\n" for wnid, lemmas in words.items()))
    assert DATA_FORMATS.build("tiny_imagenet").classes(tiny.folder, OPTIONS) == [
        "goldfish",
        "reel (n03444034)",
        "reel (n04067472)",
    ]


def test_tiny_imagenet_grayscale_jpeg_reads_as_rgb(tiny: TinyFixture) -> None:
    index = read("tiny_imagenet", tiny.folder, "train")
    position = [p for p, _ in tiny.train].index(tiny.grayscale)
    pixels = index.images.read(position)
    assert pixels.shape == (64, 64, 3) and (pixels[..., 0] == pixels[..., 2]).all()
    assert index.images.read(position, (32, 32)).shape == (32, 32, 3)


def test_tiny_imagenet_summary_and_default_split(tiny: TinyFixture) -> None:
    chosen = DATA_FORMATS.build("tiny_imagenet")
    assert chosen.summary(tiny.folder.parent, OPTIONS) == "Tiny-ImageNet: 6 train / 4 val images, 3 classes"
    assert chosen.default_test_split == "val"


def test_tiny_imagenet_task_classes_subset(tiny: TinyFixture) -> None:
    index = read("tiny_imagenet", tiny.folder, "val", FormatOptions(classes=["reel", "go-kart"]))
    assert [Path(index.images.describe(i)).name for i in range(len(index.images))] == [
        "val_0.JPEG",
        "val_1.JPEG",
        "val_3.JPEG",
    ]
    assert index.labels.tolist() == [1, 0, 1]


def test_tiny_imagenet_test_split_has_no_labels(tiny: TinyFixture) -> None:
    with pytest.raises(UserError, match=r"test split .* has no labels"):
        read("tiny_imagenet", tiny.folder, "test")
    with pytest.raises(UserError, match=r"no split 'training': allowed: train, val"):
        read("tiny_imagenet", tiny.folder, "training")


def test_tiny_imagenet_missing_annotations_is_named(tiny: TinyFixture) -> None:
    (tiny.folder / "val" / "val_annotations.txt").unlink()
    with pytest.raises(UserError, match=r"val/val_annotations\.txt not found"):
        read("tiny_imagenet", tiny.folder, "val")


def test_tiny_imagenet_missing_val_image_is_named(tiny: TinyFixture) -> None:
    (tiny.folder / "val" / "images" / "val_2.JPEG").unlink()
    with pytest.raises(UserError, match=r"val image .*val/images/val_2\.JPEG \(listed in val_annotations"):
        read("tiny_imagenet", tiny.folder, "val")


def test_tiny_imagenet_unknown_wnid_in_annotations_is_named(tiny: TinyFixture) -> None:
    path = tiny.folder / "val" / "val_annotations.txt"
    path.write_text(path.read_text() + "val_0.JPEG\tn09999999\t0\t0\t1\t1\n")
    with pytest.raises(UserError, match=r"val_annotations\.txt line 5 names wnid n09999999, which is not in"):
        read("tiny_imagenet", tiny.folder, "val")


def test_tiny_imagenet_missing_class_folder_is_named(tiny: TinyFixture) -> None:
    for image in (tiny.folder / "train" / "n03444034" / "images").iterdir():
        image.unlink()
    (tiny.folder / "train" / "n03444034" / "images").rmdir()
    with pytest.raises(UserError, match=r"train/n03444034/images not found"):
        read("tiny_imagenet", tiny.folder, "train")


# -- detection -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "write, expected",
    [(write_cifar10, "cifar10"), (write_cifar100, "cifar100"), (write_tiny_imagenet, "tiny_imagenet")],
)
@pytest.mark.parametrize("split", ["train", None])
def test_auto_detects_published_formats(tmp_path: Path, write, expected: str, split: str | None) -> None:
    fixture = write(tmp_path)
    assert find_format("classification", "auto", tmp_path, split).name == expected
    assert find_format("classification", "auto", fixture.folder, split).name == expected


def test_tiny_imagenet_is_not_taken_for_an_image_folder(tiny: TinyFixture) -> None:
    for split in ("train", "val"):  # both are also valid ImageFolder trees (val/images/ looks like one class)
        assert find_format("classification", "auto", tiny.folder, split).name == "tiny_imagenet"


def test_plain_image_folder_still_wins(tmp_path: Path) -> None:
    write_image_folder(tmp_path)
    assert find_format("classification", "auto", tmp_path, "train").name == "image_folder"


def test_detect_checks_the_split_files(cifar10: CifarFixture, tiny: TinyFixture) -> None:
    cifar, tiny_format = DATA_FORMATS.build("cifar10"), DATA_FORMATS.build("tiny_imagenet")
    assert cifar.detect(cifar10.folder, "test") and tiny_format.detect(tiny.folder, "val")
    (cifar10.folder / "test_batch.bin").unlink()
    assert not cifar.detect(cifar10.folder, "test") and cifar.detect(cifar10.folder, "train")
    assert not cifar.detect(tiny.folder, "train") and not tiny_format.detect(cifar10.folder, "train")
