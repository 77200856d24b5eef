"""The Cityscapes, GTA5 and Pascal VOC readers on tiny fixtures in the published layouts (no torch)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.core.errors import ConfigError, UserError
from engine.data.formats import DATA_FORMATS, FormatOptions, MaskIndex, find_format
from engine.data.formats.cityscapes import CITYSCAPES_CLASSES, LABEL_ID_TO_TRAIN_ID
from engine.data.formats.voc import VOC_CLASSES
from tests.data.fixtures_seg_formats import (
    Expected,
    write_cityscapes,
    write_gta5,
    write_seg_folders,
    write_voc,
)

OPTIONS = FormatOptions()


@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory: pytest.TempPathFactory) -> Expected:
    return write_cityscapes(tmp_path_factory.mktemp("cityscapes"))


@pytest.fixture(scope="module")
def gta5(tmp_path_factory: pytest.TempPathFactory) -> Expected:
    return write_gta5(tmp_path_factory.mktemp("gta5"))


@pytest.fixture(scope="module")
def voc(tmp_path_factory: pytest.TempPathFactory) -> Expected:
    return write_voc(tmp_path_factory.mktemp("voc"))


def read(name: str, root: Path, split: str | None, options: FormatOptions = OPTIONS) -> MaskIndex:
    return DATA_FORMATS.build(name).read(root, split, options)


def check_index(index: MaskIndex, expected: Expected, split: str) -> None:
    """Images in the expected order, every path present, masks reading as the expected class indices."""
    assert len(index.images) == len(index.masks) == len(expected.images[split])
    for i in range(len(index.images)):
        image, mask = Path(index.images.describe(i)), Path(index.masks.describe(i))
        assert image.is_file() and mask.is_file()
        assert str(image.relative_to(expected.root)) == expected.images[split][i]
        got = index.masks.read(i)
        assert got.dtype == np.uint8 and np.array_equal(got, expected.masks[split][i]), (split, i, mask)


def copy_of(expected: Expected, tmp_path: Path) -> Path:
    """A writable copy of a module-scoped fixture, for tests that break it."""
    return Path(shutil.copytree(expected.root, tmp_path / "copy"))


# -- Cityscapes ----------------------------------------------------------------------------------------------
def test_label_table_is_the_official_one() -> None:
    from cityscapesscripts.helpers.labels import labels

    official = {
        label.id: (255 if label.trainId in (255, -1) else label.trainId) for label in labels if label.id >= 0
    }
    ours = {label_id: LABEL_ID_TO_TRAIN_ID.get(label_id, 255) for label_id in official}
    assert ours == official and set(LABEL_ID_TO_TRAIN_ID) <= set(official)
    train = sorted((label for label in labels if label.trainId not in (255, -1)), key=lambda lab: lab.trainId)
    assert [label.trainId for label in train] == list(range(19))
    assert [label.name for label in train] == CITYSCAPES_CLASSES


def test_cityscapes_index_maps_the_official_table(cityscapes: Expected) -> None:
    from cityscapesscripts.helpers.labels import labels

    lut = read("cityscapes", cityscapes.root, "train").masks.labels.lut
    for label in labels:
        if label.id >= 0:
            assert lut[label.id] == (255 if label.trainId in (255, -1) else label.trainId), label.name
    assert (lut[34:] == 255).all()


@pytest.mark.parametrize("split", ["train", "val"])
def test_cityscapes_reads_labelids_of_each_image(cityscapes: Expected, split: str) -> None:
    index = read("cityscapes", cityscapes.root, split)
    check_index(index, cityscapes, split)
    assert all(index.masks.describe(i).endswith("_gtFine_labelIds.png") for i in range(len(index.masks)))


def test_cityscapes_default_split_is_val(cityscapes: Expected) -> None:
    fmt = DATA_FORMATS.build("cityscapes")
    assert fmt.default_test_split == "val"
    check_index(fmt.read(cityscapes.root, None, OPTIONS), cityscapes, "val")


@pytest.mark.parametrize(
    "split, words", [("test", ["not public", "'val'"]), ("train_extra", ["train_extra", "train, val"])]
)
def test_cityscapes_refuses_splits_without_fine_labels(
    cityscapes: Expected, split: str, words: list[str]
) -> None:
    with pytest.raises(UserError) as err:
        read("cityscapes", cityscapes.root, split)
    assert all(word in str(err.value) for word in words)


def test_cityscapes_classes(cityscapes: Expected) -> None:
    fmt = DATA_FORMATS.build("cityscapes")
    assert fmt.classes(cityscapes.root, OPTIONS) == CITYSCAPES_CLASSES
    assert fmt.classes(cityscapes.root, FormatOptions(classes=list(CITYSCAPES_CLASSES))) == CITYSCAPES_CLASSES
    for wrong in (CITYSCAPES_CLASSES[:18], CITYSCAPES_CLASSES[::-1]):
        with pytest.raises(ConfigError, match="task.classes"):
            fmt.classes(cityscapes.root, FormatOptions(classes=wrong))
        with pytest.raises(ConfigError, match="task.classes"):
            fmt.read(cityscapes.root, "train", FormatOptions(classes=wrong))


def test_cityscapes_missing_gtfine(cityscapes: Expected, tmp_path: Path) -> None:
    root = copy_of(cityscapes, tmp_path)
    shutil.rmtree(root / "gtFine" / "val")
    with pytest.raises(UserError, match=f"{root / 'gtFine' / 'val'} not found"):
        read("cityscapes", root, "val")
    shutil.rmtree(root / "gtFine")
    assert not DATA_FORMATS.build("cityscapes").detect(root, "train")


def test_cityscapes_missing_label_file_is_named(cityscapes: Expected, tmp_path: Path) -> None:
    root = copy_of(cityscapes, tmp_path)
    label = root / "gtFine" / "train" / "bochum" / "bochum_000000_000313_gtFine_labelIds.png"
    label.unlink()  # its _color, _instanceIds, _labelTrainIds siblings are still there
    with pytest.raises(UserError) as err:
        read("cityscapes", root, "train")
    assert f"label file {label} not found" in str(err.value)
    assert "bochum_000000_000313_leftImg8bit.png" in str(err.value)


def test_cityscapes_colour_label_is_named(cityscapes: Expected, tmp_path: Path) -> None:
    root = copy_of(cityscapes, tmp_path)
    city = root / "gtFine" / "val" / "frankfurt"
    label = city / "frankfurt_000000_000294_gtFine_labelIds.png"
    shutil.copy(city / "frankfurt_000000_000294_gtFine_color.png", label)
    index = read("cityscapes", root, "val")  # the index holds paths only: the file is read when used
    with pytest.raises(UserError, match=f"{label}.*RGBA"):
        index.masks.read(0)


# -- GTA5 ----------------------------------------------------------------------------------------------------
def test_gta5_train_is_every_image(gta5: Expected) -> None:
    index = read("gta5", gta5.root, "train")
    check_index(index, gta5, "train")
    assert all(index.masks.describe(i).endswith(f"{i + 1:05d}.png") for i in range(len(index.masks)))


@pytest.mark.parametrize("split", ["val", "test"])
def test_gta5_val_and_test_come_from_split_mat(gta5: Expected, split: str) -> None:
    check_index(read("gta5", gta5.root, split), gta5, split)


def test_gta5_labels_are_palette_indices(gta5: Expected) -> None:
    with Image.open(gta5.root / "labels" / "00001.png") as img:
        assert img.mode == "P"  # the reader must use the indices (label ids), not the palette colours


def test_gta5_without_split_mat(tmp_path: Path) -> None:
    root = write_gta5(tmp_path, split_mat=False).root
    fmt = DATA_FORMATS.build("gta5")
    assert len(fmt.read(root, "train", OPTIONS).images) == 6
    assert fmt.detect(root, "train") and fmt.detect(root, None) and not fmt.detect(root, "val")
    with pytest.raises(UserError, match=f"{root / 'split.mat'} not found"):
        fmt.read(root, "val", OPTIONS)


def test_gta5_image_without_label_is_named(gta5: Expected, tmp_path: Path) -> None:
    root = copy_of(gta5, tmp_path)
    (root / "labels" / "00003.png").unlink()
    with pytest.raises(UserError) as err:
        read("gta5", root, "train")
    assert f"{root / 'labels' / '00003.png'} not found" in str(err.value)
    assert str(root / "images" / "00003.png") in str(err.value)


def test_gta5_classes_are_cityscapes(gta5: Expected) -> None:
    assert DATA_FORMATS.build("gta5").classes(gta5.root, OPTIONS) == CITYSCAPES_CLASSES


# -- Pascal VOC ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("split", ["train", "val", "trainval", "trainaug"])
def test_voc_reads_each_split(voc: Expected, split: str) -> None:
    check_index(read("voc", voc.root, split), voc, split)


def test_voc_masks_hold_classes_and_border(voc: Expected) -> None:
    values = np.unique(np.concatenate([m.ravel() for m in voc.masks["trainval"]]))
    assert set(values) == set(range(21)) | {255}
    with Image.open(voc.root / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2007_000032.png") as img:
        assert img.mode == "P" and img.getpalette()[:6] == [0, 0, 0, 128, 0, 0]


@pytest.mark.parametrize("relative", ["", "VOCdevkit", "VOCdevkit/VOC2012"])
def test_voc_root_may_be_any_of_the_three_folders(voc: Expected, relative: str) -> None:
    root = voc.root / relative
    assert find_format("segmentation", "auto", root, "train").name == "voc"
    assert len(read("voc", root, "val").images) == 2
    assert len(read("voc", root, None).images) == 2  # default: val


def test_voc_missing_split_file_lists_those_present(voc: Expected) -> None:
    with pytest.raises(UserError) as err:
        read("voc", voc.root, "test")
    message = str(err.value)
    assert str(voc.root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "test.txt") in message
    assert "aug, train, trainaug, trainval, val" in message


def test_voc_bad_values_and_colour_masks_are_named(voc: Expected, tmp_path: Path) -> None:
    root = copy_of(voc, tmp_path)
    masks = root / "VOCdevkit" / "VOC2012" / "SegmentationClass"
    Image.fromarray(np.full((16, 32), 21, np.uint8), mode="L").save(masks / "2007_000032.png")
    with Image.open(masks / "2007_000039.png") as img:
        img.convert("RGB").save(masks / "2007_000039.png")  # the colours instead of the indices
    index = read("voc", root, "train")
    with pytest.raises(UserError, match=f"{masks / '2007_000032.png'} holds value 21"):
        index.masks.read(0)
    with pytest.raises(UserError, match=f"{masks / '2007_000039.png'} is a RGB image"):
        index.masks.read(1)


def test_voc_missing_mask_is_named(voc: Expected, tmp_path: Path) -> None:
    root = copy_of(voc, tmp_path)
    mask = root / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2007_000042.png"
    mask.unlink()
    with pytest.raises(UserError, match=f"{mask} not found"):
        read("voc", root, "val")


def test_voc_classes(voc: Expected) -> None:
    fmt = DATA_FORMATS.build("voc")
    assert fmt.classes(voc.root, OPTIONS) == VOC_CLASSES and len(VOC_CLASSES) == 21
    assert VOC_CLASSES[0] == "background" and VOC_CLASSES[-1] == "tvmonitor"
    with pytest.raises(ConfigError, match="task.classes"):
        fmt.classes(voc.root, FormatOptions(classes=["background", "cat"]))


# -- detection and summaries ---------------------------------------------------------------------------------
def test_auto_detection_picks_each_format(cityscapes: Expected, gta5: Expected, voc: Expected) -> None:
    for name, expected in (("cityscapes", cityscapes), ("gta5", gta5), ("voc", voc)):
        assert find_format("segmentation", "auto", expected.root, "train").name == name
        assert find_format("segmentation", "auto", expected.root, None).name == name


def test_segmentation_folders_still_win_on_their_own_layout(tmp_path: Path) -> None:
    root = write_seg_folders(tmp_path / "seg")
    assert find_format("segmentation", "auto", root, "train").name == "seg_folders"
    assert find_format("segmentation", "auto", root / "val", None).name == "seg_folders"  # images/ + masks/
    for name in ("cityscapes", "gta5", "voc"):
        assert not DATA_FORMATS.build(name).detect(root / "val", None)


def test_no_layout_names_what_each_format_expects(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        find_format("segmentation", "auto", tmp_path, "train")
    assert all(title in str(err.value) for title in ("Cityscapes", "GTA5", "Pascal VOC 2012"))


def test_summaries(cityscapes: Expected, gta5: Expected, voc: Expected) -> None:
    def summary(name: str, root: Path) -> str:
        return DATA_FORMATS.build(name).summary(root, OPTIONS)

    assert summary("cityscapes", cityscapes.root) == "Cityscapes: 3 train / 2 val images, 19 classes"
    assert summary("gta5", gta5.root) == (
        "GTA5: 6 images (train = all); 2 val / 1 test in split.mat, 19 classes"
    )
    assert summary("voc", voc.root) == "Pascal VOC 2012: 2 train / 2 val / 3 trainaug images, 21 classes"
