"""The COCO, YOLO and Pascal VOC detection readers on one tiny set written in each published layout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import ConfigError, UserError
from engine.data.formats import DATA_FORMATS, BoxIndex, FormatOptions, find_format
from engine.data.formats.voc_det import VOC_DET_CLASSES
from tests.data.fixtures_det_formats import (
    CLASSES,
    IMAGES,
    SPLIT,
    expected,
    voc_xml,
    write_coco,
    write_voc,
    write_yolo,
)

WRITERS: dict[str, Callable[[Path], Path]] = {"coco": write_coco, "yolo": write_yolo, "voc_det": write_voc}
OPTIONS = FormatOptions(classes=list(CLASSES))


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: write(tmp_path_factory.mktemp(name)) for name, write in WRITERS.items()}


def boxes_per_image(index: BoxIndex) -> list[tuple[np.ndarray, np.ndarray]]:
    return [index.boxes_of(i) for i in range(len(index.images))]


@pytest.mark.parametrize("name", list(WRITERS))
def test_each_layout_is_detected_and_read_to_the_same_boxes(roots: dict[str, Path], name: str) -> None:
    chosen = find_format("detection", "auto", roots[name], SPLIT)
    assert chosen.name == name and chosen.task == "detection"
    index = chosen.read(roots[name], SPLIT, OPTIONS)
    assert [Path(index.images.describe(i)).stem for i in range(len(index.images))] == list(IMAGES)
    for (boxes, labels), (want_boxes, want_labels) in zip(boxes_per_image(index), expected()):
        assert labels.tolist() == want_labels.tolist()  # crowd and difficult objects left out
        np.testing.assert_allclose(boxes, want_boxes, atol=1e-3)  # YOLO's 6-digit normalised values
    assert index.boxes.dtype == np.float32 and index.labels.dtype == np.int64
    assert chosen.classes(roots[name], OPTIONS) == CLASSES


def test_published_class_names_without_task_classes(roots: dict[str, Path]) -> None:
    assert (
        DATA_FORMATS.build("coco").classes(roots["coco"], FormatOptions()) == CLASSES
    )  # sorted category ids
    assert DATA_FORMATS.build("yolo").classes(roots["yolo"], FormatOptions()) == CLASSES  # data.yaml names
    assert DATA_FORMATS.build("voc_det").classes(roots["voc_det"], FormatOptions()) == VOC_DET_CLASSES


def test_task_classes_pick_and_reorder_a_subset(roots: dict[str, Path]) -> None:
    for name in ("coco", "yolo"):
        index = DATA_FORMATS.build(name).read(roots[name], SPLIT, FormatOptions(classes=["sign", "car"]))
        per_image = [labels.tolist() for _, labels in boxes_per_image(index)]
        assert per_image == [[1], [0, 1], []], name  # person left out, sign -> 0, car -> 1; images kept
    voc = DATA_FORMATS.build("voc_det").read(
        roots["voc_det"], SPLIT, FormatOptions(classes=["person", "car"])
    )
    assert [labels.tolist() for _, labels in boxes_per_image(voc)] == [[1, 0], [1], []]
    with pytest.raises(ConfigError, match="task.classes.*'bus'"):
        DATA_FORMATS.build("coco").read(roots["coco"], SPLIT, FormatOptions(classes=["car", "bus"]))


def test_voc_names_outside_the_20_classes_need_task_classes(roots: dict[str, Path]) -> None:
    with pytest.raises(UserError, match=r"b_portrait\.xml.*'sign' is not one of the 20 VOC classes"):
        DATA_FORMATS.build("voc_det").read(roots["voc_det"], SPLIT, FormatOptions())


def test_a_coco_test_set_without_split_reads_its_only_annotation_file(roots: dict[str, Path]) -> None:
    assert len(DATA_FORMATS.build("coco").read(roots["coco"], None, OPTIONS).images) == len(IMAGES)


def rewrite(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new, 1))


def break_coco_json(root: Path) -> Path:
    path = root / "annotations" / f"instances_{SPLIT}.json"
    path.write_text(path.read_text()[:-20])
    return path


def break_coco_box(root: Path) -> Path:
    path = root / "annotations" / f"instances_{SPLIT}.json"
    data = json.loads(path.read_text())
    data["annotations"][0]["bbox"][2] = -5  # x2 < x1
    path.write_text(json.dumps(data))
    return path


def break_yolo_class(root: Path) -> Path:
    path = root / "labels" / SPLIT / "b_portrait.txt"
    path.write_text(path.read_text() + "7 0.5 0.5 0.1 0.1\n")
    return path


def break_yolo_coords(root: Path) -> Path:
    path = root / "labels" / SPLIT / "a_street.txt"
    path.write_text("0 12 20 30 40\n")  # pixels where normalised values belong
    return path


def break_voc_xml(root: Path) -> Path:
    path = root / "VOCdevkit" / "VOC2012" / "Annotations" / "a_street.xml"
    rewrite(path, "</annotation>", "")
    return path


def break_voc_box(root: Path) -> Path:
    path = root / "VOCdevkit" / "VOC2012" / "Annotations" / "b_portrait.xml"
    path.write_text(voc_xml("b_portrait", (64, 40), [("car", 0, 30, 5, 10, 15)]))
    return path


def drop_voc_xml(root: Path) -> Path:
    path = root / "VOCdevkit" / "VOC2012" / "Annotations" / "c_empty.xml"
    path.unlink()
    return path


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("coco", break_coco_json, "not readable as JSON"),
        ("coco", break_coco_box, "x2 < x1"),
        ("yolo", break_yolo_class, r":3: class 7 is not an index 0\.\.2"),
        ("yolo", break_yolo_coords, ":1: coordinates must be normalised"),
        ("voc_det", break_voc_xml, "not well-formed XML"),
        ("voc_det", break_voc_box, "x2 < x1"),
        ("voc_det", drop_voc_xml, "not found"),
    ],
)
def test_a_bad_annotation_file_is_one_line_naming_it(
    tmp_path: Path, name: str, damage: Callable[[Path], Path], message: str
) -> None:
    root = WRITERS[name](tmp_path)
    path = damage(root)
    with pytest.raises(UserError, match=message) as caught:
        DATA_FORMATS.build(name).read(root, SPLIT, OPTIONS)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_auto_finds_no_detection_layout_in_an_image_folder(tmp_path: Path) -> None:
    (tmp_path / SPLIT / "cats").mkdir(parents=True)
    with pytest.raises(UserError, match="no known detection data layout.*COCO.*Pascal VOC.*YOLO"):
        find_format("detection", "auto", tmp_path, SPLIT)


@pytest.mark.parametrize("name", ["yolo", "voc_det"])
def test_an_evaluation_only_run_finds_training_splits_that_are_not_root_folders(
    roots: dict[str, Path], name: str
) -> None:
    from engine.data.formats import has_training_data

    cfg = {
        "task": {"name": "detection"},
        "data": {"root": str(roots[name]), "train_dir": SPLIT, "format": "auto"},
        "train": {"max_steps": 0},
    }
    assert has_training_data(cfg)
    assert not has_training_data(cfg | {"data": cfg["data"] | {"train_dir": "nowhere"}})
