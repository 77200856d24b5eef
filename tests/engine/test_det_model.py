"""Detection models: torchvision's FCOS / RetinaNet / Faster R-CNN on an FPN over registry backbones."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
import yaml
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import box_iou

from engine.core.errors import ConfigError
from engine.freeze.stages import resolve_paths
from engine.models.det_heads import DET_HEADS, StridedAnchors
from engine.models.det_model import (
    DetectionModel,
    box_targets,
    build_detection_model,
    detection_output_text,
)

HEADS = ("fcos", "retinanet", "faster_rcnn")
LOSS_NAMES = {
    "fcos": {"cls", "box", "centerness"},
    "retinanet": {"cls", "box"},
    "faster_rcnn": {"cls", "box", "objectness", "rpn_box"},
}
SIZE = (64, 96)  # non-square, as letterboxed batches are
TINY_BACKBONE = {"name": "plain_cnn", "depth": 4, "width": 16, "output_stride": 8}


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def _model(head: str, backbone: dict | None = None, num_classes: int = 3, **head_keys) -> DetectionModel:
    small = {"fpn_channels": 32} | ({} if head == "faster_rcnn" else {"head_convs": 1})
    section = {
        "image_size": list(SIZE),
        "backbone": backbone or TINY_BACKBONE,
        "head": {"name": head, **small, **head_keys},
    }
    return build_detection_model(section, num_classes)


def _targets() -> list[dict[str, torch.Tensor]]:
    return [
        {
            "boxes": torch.tensor([[10.0, 8.0, 30.0, 40.0], [50.0, 5.0, 62.0, 20.0]]),
            "labels": torch.tensor([0, 2]),
        },
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},  # an image with no boxes
    ]


@pytest.mark.parametrize("head", HEADS)
def test_each_detector_trains_a_step_then_detects_in_input_pixels(head: str) -> None:
    model = _model(head)
    images = torch.randn(2, 3, *SIZE)
    losses = model(images, _targets())
    assert set(losses) == LOSS_NAMES[head]
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.neck.fpn.inner_blocks[0][0].weight.grad is not None  # the loss reaches the neck
    model.eval()
    model.set_postprocess(0.0, 0.6, 50)  # keep everything: the untrained scores are low
    with torch.no_grad():
        detections = model(images)
    assert len(detections) == 2
    for found in detections:
        assert set(found) == {"boxes", "scores", "labels"}
        n = len(found["scores"])
        assert 0 < n <= 50
        assert found["boxes"].shape == (n, 4) and found["labels"].dtype == torch.int64
        assert found["labels"].min() >= 0 and found["labels"].max() < 3
        x1, y1, x2, y2 = found["boxes"].unbind(1)
        assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= SIZE[1]).all() and (y2 <= SIZE[0]).all()


def test_fcos_learns_a_box_where_it_is_drawn() -> None:
    """Boxes come back in the input's pixels: no resize, no padding shift between targets and detections."""
    model = _model("fcos", num_classes=2)
    images = torch.zeros(2, 3, *SIZE)
    images[:, :, 20:44, 40:60] = 2.0
    box = torch.tensor([[40.0, 20.0, 60.0, 44.0]])
    targets = [{"boxes": box, "labels": torch.tensor([1])}] * 2
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(30):
        optimizer.zero_grad()
        sum(model(images, targets).values()).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        best = model(images)[0]
    assert best["labels"][0] == 1
    assert box_iou(best["boxes"][:1], box).item() > 0.7


@pytest.mark.parametrize("head", HEADS)
def test_groups_hold_every_parameter_exactly_once(head: str) -> None:
    model = _model(head)
    groups = model.module_groups()
    assert list(groups) == ["backbone", "neck", "head"]
    owners: dict[int, str] = {}
    for name, module in groups.items():
        for param in module.parameters():
            assert id(param) not in owners, f"in {owners.get(id(param))} and {name}"
            owners[id(param)] = name
    assert set(owners) == {id(p) for p in model.parameters()}
    assert sum(p.numel() for p in groups["head"].parameters()) > 0


def test_freeze_paths_name_backbone_stages_and_the_neck() -> None:
    model = _model("fcos", backbone={"name": "resnet18", "pretrained": False})
    groups = model.module_groups()
    assert groups["backbone"] is model.backbone
    assert resolve_paths(groups, ["backbone.layer4", "neck", "head"], "k") == (
        "backbone.layer4",
        "neck",
        "head",
    )
    assert resolve_paths(groups, ["aggregator"], "k") == ("neck",)


def test_faster_rcnn_shifts_labels_past_its_background_and_back() -> None:
    model = _model("faster_rcnn")
    seen = []
    roi_heads = model.head.roi_heads
    forward = roi_heads.forward

    def spy(features, proposals, image_sizes, targets=None):
        seen.append(None if targets is None else [t["labels"].tolist() for t in targets])
        return forward(features, proposals, image_sizes, targets)

    roi_heads.forward = spy
    targets = _targets()
    model(torch.randn(2, 3, *SIZE), targets)
    assert seen == [[[1, 3], []]]
    assert targets[0]["labels"].tolist() == [0, 2]  # the caller's targets are left as they were
    # Out: make torchvision's class 1 (our 0) win everywhere; detections must say 0.
    classifier = roi_heads.box_predictor.cls_score
    with torch.no_grad():
        classifier.weight.zero_()
        classifier.bias.copy_(torch.tensor([0.0, 10.0, 0.0, 0.0]))
    model.eval()
    model.set_postprocess(0.5, 0.6, 100)
    with torch.no_grad():
        found = model(torch.randn(1, 3, *SIZE))[0]
    assert len(found["labels"]) > 0 and set(found["labels"].tolist()) == {0}


def test_set_postprocess_takes_effect_and_checks_its_values() -> None:
    model = _model("fcos").eval()
    images = torch.randn(2, 3, *SIZE)
    counts = {}
    for threshold in (0.0, 0.99):
        model.set_postprocess(threshold, 0.6, 100)
        with torch.no_grad():
            counts[threshold] = sum(len(d["scores"]) for d in model(images))
    assert counts[0.99] < counts[0.0]
    model.set_postprocess(0.0, 0.6, 3)
    with torch.no_grad():
        assert max(len(d["scores"]) for d in model(images)) == 3
    with pytest.raises(ConfigError, match="eval.nms_iou"):
        model.set_postprocess(0.1, 1.5, 100)
    with pytest.raises(ConfigError, match="eval.max_detections"):
        model.set_postprocess(0.1, 0.5, 0)


def test_flat_boxes_are_dropped_not_turned_into_nan() -> None:
    model = _model("retinanet")
    flat = [
        {
            "boxes": torch.tensor([[10.0, 10.0, 10.0, 30.0], [5.0, 5.0, 25.0, 25.0]]),
            "labels": torch.tensor([1, 0]),
        }
    ]
    losses = model(torch.randn(1, 3, *SIZE), flat)
    assert all(torch.isfinite(v) for v in losses.values())


def test_box_targets_from_padded_rows() -> None:
    rows = torch.tensor(
        [[[2, 1, 2, 3, 4], [-1, 0, 0, 0, 0]], [[-1, 0, 0, 0, 0], [-1, 0, 0, 0, 0]]], dtype=torch.float32
    )
    first, second = box_targets(rows)
    assert first["labels"].tolist() == [2] and first["boxes"].tolist() == [[1, 2, 3, 4]]
    assert second["boxes"].shape == (0, 4) and second["labels"].dtype == torch.int64


def test_levels_follow_the_backbone_strides() -> None:
    plain = _model("fcos", backbone={"name": "plain_cnn"})  # stride 16 preset: taps at 4 (skipped) and 8
    assert plain.neck.strides == [8, 16, 32, 64]
    resnet = _model("faster_rcnn", backbone={"name": "resnet18", "pretrained": False})
    assert resnet.neck.strides == [8, 16, 32, 64]  # stride 8, 16, 32 maps and the max-pooled level
    text = detection_output_text(_model("retinanet", backbone={"name": "plain_cnn"}))
    assert "RetinaNet" in text and "p6/32" in text and "9 anchors per location" in text


def test_anchors_use_the_true_stride_where_the_grid_was_rounded_up() -> None:
    sizes, ratios = ((32.0,), (64.0,)), ((0.5, 1.0, 2.0),) * 2
    ours, theirs = StridedAnchors(sizes, ratios, [8, 16]), AnchorGenerator(sizes, ratios)
    maps = [torch.zeros(1, 4, 8, 12), torch.zeros(1, 4, 4, 6)]
    images = ImageList(torch.zeros(1, 3, 64, 96), [(64, 96)])
    assert torch.equal(ours(images, maps)[0], theirs(images, maps)[0])  # sizes divisible: identical
    odd = [torch.zeros(1, 4, 3, 4)]  # 40×64 at stride 16 -> 3 rows (40 // 3 = 13 for torchvision)
    anchors = StridedAnchors(((32.0,),), ((1.0,),), [16])(
        ImageList(torch.zeros(1, 3, 40, 64), [(40, 64)]), odd
    )[0]
    centres_y = ((anchors[:, 1] + anchors[:, 3]) / 2).unique()
    assert centres_y.tolist() == [0.0, 16.0, 32.0]


def test_bad_head_values_name_their_key() -> None:
    with pytest.raises(ConfigError, match="model.head.name.*allowed: faster_rcnn, fcos, retinanet"):
        _model("yolo")
    with pytest.raises(
        ConfigError, match="model.head.fpn_channels: must be an integer ≥ 1 and a multiple of 32"
    ):
        _model("fcos", fpn_channels=48)
    with pytest.raises(ConfigError, match="model.head.anchor_scales"):
        _model("retinanet", anchor_scales=[])
    with pytest.raises(
        ConfigError, match="model.head.proposal: not a faster_rcnn setting; allowed: fpn_channels"
    ):
        _model("faster_rcnn", proposal=100)


def test_presets_list_every_factory_setting(repo_root: Path) -> None:
    for entry in DET_HEADS:
        preset = yaml.safe_load((repo_root / "presets" / "head" / f"{entry.name}.yaml").read_text())
        assert preset.pop("name") == entry.name and preset.pop("tasks") == ["detection"]
        assert preset.pop("description")
        defaults = {
            p.name: list(p.default) if isinstance(p.default, tuple) else p.default
            for p in inspect.signature(entry.factory).parameters.values()
            if p.default is not inspect.Parameter.empty
        }
        assert preset == defaults, entry.name
        assert all(type(preset[k]) is type(defaults[k]) for k in preset), entry.name
