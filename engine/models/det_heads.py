"""Detection heads: torchvision's FCOS, RetinaNet and Faster R-CNN, fed by our FPN instead of their backbone.

Each head subclasses the torchvision detector and keeps its pieces (anchor generator, box coder, matcher,
losses, postprocessing, RPN and RoI heads) but not its `backbone` or its `transform`: our images arrive
letterboxed at model.image_size and normalised, so nothing is resized or re-normalised and boxes stay in
input pixels. `forward(features, images, targets)` replaces the detector's own forward from the feature
maps on. Anchors use the strides the levels really have (torchvision infers them as image size // grid
size, which is off for levels whose size was rounded up, e.g. a 160-high image at stride 64 -> 3 rows).
"""

from __future__ import annotations

import inspect
import math
from collections import OrderedDict
from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.fcos import FCOSHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import ExtraFPNBlock, LastLevelMaxPool, LastLevelP6P7

from engine.core.config.presets import preset_params
from engine.core.errors import ConfigError, shown
from engine.core.registry import Registry

DET_HEADS = Registry("detection head", "model.head.name")
_KEY = "model.head"
#: Torchvision's own head convs normalise with GroupNorm(32, C): the FPN width must divide into 32 groups.
_GROUPS = 32

Targets = list[dict[str, Tensor]]
Detections = list[dict[str, Tensor]]


class StridedAnchors(AnchorGenerator):
    """An AnchorGenerator whose level strides are given, not inferred from the grid sizes."""

    def __init__(
        self,
        sizes: Sequence[Sequence[float]],
        aspect_ratios: Sequence[Sequence[float]],
        strides: Sequence[int],
    ) -> None:
        super().__init__(tuple(tuple(s) for s in sizes), tuple(tuple(r) for r in aspect_ratios))
        self.strides = [int(s) for s in strides]

    def forward(self, image_list: ImageList, feature_maps: list[Tensor]) -> list[Tensor]:
        grid_sizes = [list(f.shape[-2:]) for f in feature_maps]
        dtype, device = feature_maps[0].dtype, feature_maps[0].device
        strides = [[torch.tensor(s, dtype=torch.int64, device=device)] * 2 for s in self.strides]
        self.set_cell_anchors(dtype, device)
        every_level = torch.cat(self.grid_anchors(grid_sizes, strides))
        return [every_level for _ in image_list.image_sizes]


def _drop_unused(detector: nn.Module) -> None:
    """Remove the placeholder backbone and the resizing transform: the model feeds the FPN maps itself."""
    del detector.backbone
    del detector.transform


class _Channels(nn.Module):
    """Stands in for a backbone when the torchvision class only reads its `out_channels`."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels


def _split_per_level(
    head_outputs: dict[str, Tensor], anchors: list[Tensor], features: list[Tensor]
) -> tuple[dict[str, list[Tensor]], list[list[Tensor]]]:
    """Dense head outputs and anchors cut back into levels, as the one-stage postprocessing wants them."""
    cells = [f.shape[-2] * f.shape[-1] for f in features]
    per_cell = head_outputs["cls_logits"].shape[1] // sum(cells)
    sizes = [c * per_cell for c in cells]
    outputs = {k: list(v.split(sizes, dim=1)) for k, v in head_outputs.items()}
    return outputs, [list(a.split(sizes)) for a in anchors]


class _OneStage:
    """What FCOS and RetinaNet share around torchvision's classes: the FPN maps go straight into the head, the
    losses come back under short names, the postprocessing settings are the evaluation's."""

    LOSS_NAMES: dict[str, str]
    head: Any
    anchor_generator: Any

    def forward(
        self, features: OrderedDict[str, Tensor], images: ImageList, targets: Targets | None = None
    ) -> dict[str, Tensor] | Detections:
        maps = list(features.values())
        head_outputs = self.head(maps)
        anchors = self.anchor_generator(images, maps)
        if targets is not None:
            losses = self.dense_loss(targets, head_outputs, anchors, maps)
            return {self.LOSS_NAMES[k]: v for k, v in losses.items()}
        outputs, split_anchors = _split_per_level(head_outputs, anchors, maps)
        return self.postprocess_detections(outputs, split_anchors, images.image_sizes)  # type: ignore[attr-defined]

    def dense_loss(
        self, targets: Targets, head_outputs: dict[str, Tensor], anchors: list[Tensor], maps: list[Tensor]
    ) -> dict[str, Tensor]:
        raise NotImplementedError

    def set_postprocess(self, score_threshold: float, nms_iou: float, max_detections: int) -> None:
        self.score_thresh, self.nms_thresh, self.detections_per_img = score_threshold, nms_iou, max_detections


class FCOSDetector(_OneStage, FCOS):
    """FCOS (anchor-free: one point per location, anchor size = the level's stride, FCOS's scale ranges)."""

    LOSS_NAMES = {"classification": "cls", "bbox_regression": "box", "bbox_ctrness": "centerness"}

    def __init__(
        self,
        channels: int,
        strides: list[int],
        num_classes: int,
        head_convs: int,
        center_sampling_radius: float,
    ) -> None:
        anchors = StridedAnchors([[s] for s in strides], [[1.0]] * len(strides), strides)
        head = FCOSHead(channels, 1, num_classes, num_convs=head_convs)
        super().__init__(
            _Channels(channels),
            num_classes,
            anchor_generator=anchors,
            head=head,
            center_sampling_radius=center_sampling_radius,
        )
        _drop_unused(self)
        self.description = f"1 point per location, {head_convs} head convs"

    def dense_loss(
        self, targets: Targets, head_outputs: dict[str, Tensor], anchors: list[Tensor], maps: list[Tensor]
    ) -> dict[str, Tensor]:
        return self.compute_loss(targets, head_outputs, anchors, [f.shape[-2] * f.shape[-1] for f in maps])


class RetinaNetDetector(_OneStage, RetinaNet):
    """RetinaNet as torchvision's v2 (GroupNorm head convs, GIoU box loss), anchors sized from the strides."""

    LOSS_NAMES = {"classification": "cls", "bbox_regression": "box"}

    def __init__(
        self,
        channels: int,
        strides: list[int],
        num_classes: int,
        head_convs: int,
        anchor_scales: list[float],
        aspect_ratios: list[float],
    ) -> None:
        anchors = _anchors(strides, anchor_scales, aspect_ratios)
        per_location = anchors.num_anchors_per_location()[0]
        head = RetinaNetHead(channels, per_location, num_classes, norm_layer=partial(nn.GroupNorm, _GROUPS))
        # torchvision builds 4 convs per branch; fewer are a prefix of them (the CPU demos use 2)
        head.classification_head.conv = head.classification_head.conv[:head_convs]
        head.regression_head.conv = head.regression_head.conv[:head_convs]
        head.regression_head._loss_type = "giou"
        super().__init__(_Channels(channels), num_classes, anchor_generator=anchors, head=head)
        _drop_unused(self)
        self.description = f"{per_location} anchors per location, {head_convs} head convs"

    def dense_loss(
        self, targets: Targets, head_outputs: dict[str, Tensor], anchors: list[Tensor], maps: list[Tensor]
    ) -> dict[str, Tensor]:
        return self.compute_loss(targets, head_outputs, anchors)


class FasterRCNNDetector(FasterRCNN):
    """Faster R-CNN (RPN on every level, RoIAlign on the backbone levels, two-layer box head).

    Class 0 is its background: our labels 0..K-1 go in as 1..K and come back out shifted down again.
    """

    LOSS_NAMES = {
        "loss_classifier": "cls",
        "loss_box_reg": "box",
        "loss_objectness": "objectness",
        "loss_rpn_box_reg": "rpn_box",
    }

    def __init__(
        self,
        channels: int,
        strides: list[int],
        roi_levels: list[str],
        num_classes: int,
        anchor_scales: list[float],
        aspect_ratios: list[float],
        proposals: int,
        roi_samples: int,
        mlp_channels: int,
    ) -> None:
        anchors = _anchors(strides, anchor_scales, aspect_ratios)
        per_location = anchors.num_anchors_per_location()[0]
        roi_pool = MultiScaleRoIAlign(featmap_names=roi_levels, output_size=7, sampling_ratio=2)
        super().__init__(
            _Channels(channels),
            None,
            rpn_anchor_generator=anchors,
            rpn_head=RPNHead(channels, per_location),
            rpn_post_nms_top_n_train=proposals,
            rpn_post_nms_top_n_test=proposals,
            box_roi_pool=roi_pool,
            box_head=TwoMLPHead(channels * 7 * 7, mlp_channels),
            box_predictor=FastRCNNPredictor(mlp_channels, num_classes + 1),
            box_batch_size_per_image=roi_samples,
        )
        _drop_unused(self)
        self.description = f"{per_location} anchors per location, {proposals} proposals"

    def forward(
        self, features: OrderedDict[str, Tensor], images: ImageList, targets: Targets | None = None
    ) -> dict[str, Tensor] | Detections:
        shifted = None if targets is None else [{**t, "labels": t["labels"] + 1} for t in targets]
        proposals, rpn_losses = self.rpn(images, features, shifted)
        detections, roi_losses = self.roi_heads(features, proposals, images.image_sizes, shifted)
        if targets is not None:
            return {self.LOSS_NAMES[k]: v for k, v in {**roi_losses, **rpn_losses}.items()}
        return [{**d, "labels": d["labels"] - 1} for d in detections]

    def set_postprocess(self, score_threshold: float, nms_iou: float, max_detections: int) -> None:
        heads = self.roi_heads
        heads.score_thresh, heads.nms_thresh, heads.detections_per_img = (
            score_threshold,
            nms_iou,
            max_detections,
        )


def _anchors(strides: list[int], scales: list[float], ratios: list[float]) -> StridedAnchors:
    """Per level, anchors of side stride × scale at each aspect ratio (height / width)."""
    sizes = [[float(stride * scale) for scale in scales] for stride in strides]
    return StridedAnchors(sizes, [ratios] * len(strides), strides)


class DetectionNeck(nn.Module):
    """torchvision's FPN over the backbone levels plus its extra levels (P6/P7 or a max-pooled one).

    Attributes:
        strides: Input pixels per cell of every output level, backbone levels first.
        names: The output levels' keys ("0", "1", ... for backbone levels, then "p6", "p7" or "pool").
        backbone_levels: Keys of the levels computed from backbone maps (Faster R-CNN pools RoIs there).
    """

    def __init__(self, in_channels: list[int], strides: list[int], channels: int, extra: str) -> None:
        super().__init__()
        blocks: dict[str, tuple[ExtraFPNBlock, list[str], list[int]]] = {
            "p6p7": (LastLevelP6P7(channels, channels), ["p6", "p7"], [strides[-1] * 2, strides[-1] * 4]),
            "maxpool": (LastLevelMaxPool(), ["pool"], [strides[-1] * 2]),
        }
        block, extra_names, extra_strides = blocks[extra]
        self.fpn = FeaturePyramidNetwork(in_channels, channels, extra_blocks=block)
        self.out_channels = channels
        self.backbone_levels = [str(i) for i in range(len(in_channels))]
        self.names = [*self.backbone_levels, *extra_names]
        self.strides = [*strides, *extra_strides]
        self.extra = extra

    def forward(self, maps: list[Tensor]) -> OrderedDict[str, Tensor]:
        return self.fpn(OrderedDict(zip(self.backbone_levels, maps, strict=True)))


class DetectorParts(NamedTuple):
    """What a head factory builds: the FPN neck and the detector on top (two of the model's groups)."""

    neck: DetectionNeck
    detector: FCOSDetector | RetinaNetDetector | FasterRCNNDetector


@DET_HEADS.register("fcos")
def fcos(
    in_channels: list[int],
    strides: list[int],
    num_classes: int,
    fpn_channels: int = 64,
    head_convs: int = 4,
    center_sampling_radius: float = 1.5,
) -> DetectorParts:
    """FCOS: anchor-free, one point per location, centerness branch; FPN with P6/P7."""
    _check_int("fpn_channels", fpn_channels, 1, multiple_of=_GROUPS)
    _check_int("head_convs", head_convs, 0)
    _check_positive_number("center_sampling_radius", center_sampling_radius)
    neck = DetectionNeck(in_channels, strides, fpn_channels, "p6p7")
    detector = FCOSDetector(
        fpn_channels, neck.strides, num_classes, head_convs, float(center_sampling_radius)
    )
    return DetectorParts(neck, detector)


@DET_HEADS.register("retinanet")
def retinanet(
    in_channels: list[int],
    strides: list[int],
    num_classes: int,
    fpn_channels: int = 64,
    head_convs: int = 4,
    anchor_scales: Sequence[float] = (4.0, 5.04, 6.35),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
) -> DetectorParts:
    """RetinaNet: focal loss over scales × aspect ratios anchors per location; FPN with P6/P7."""
    _check_int("fpn_channels", fpn_channels, 1, multiple_of=_GROUPS)
    _check_int("head_convs", head_convs, 0)
    if head_convs > 4:
        raise ConfigError(f"{_KEY}.head_convs", f"must be 0 to 4 for retinanet, got {shown(head_convs)}")
    scales = _positive_numbers("anchor_scales", anchor_scales)
    ratios = _positive_numbers("aspect_ratios", aspect_ratios)
    neck = DetectionNeck(in_channels, strides, fpn_channels, "p6p7")
    detector = RetinaNetDetector(fpn_channels, neck.strides, num_classes, head_convs, scales, ratios)
    return DetectorParts(neck, detector)


@DET_HEADS.register("faster_rcnn")
def faster_rcnn(
    in_channels: list[int],
    strides: list[int],
    num_classes: int,
    fpn_channels: int = 64,
    anchor_scales: Sequence[float] = (4.0,),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    proposals: int = 300,
    roi_samples: int = 128,
    mlp_channels: int = 256,
) -> DetectorParts:
    """Faster R-CNN: RPN proposals, RoIAlign, two-layer box head; FPN with a max-pooled extra level."""
    _check_int("fpn_channels", fpn_channels, 1)
    scales = _positive_numbers("anchor_scales", anchor_scales)
    ratios = _positive_numbers("aspect_ratios", aspect_ratios)
    _check_int("proposals", proposals, 1)
    _check_int("roi_samples", roi_samples, 1)
    _check_int("mlp_channels", mlp_channels, 1)
    neck = DetectionNeck(in_channels, strides, fpn_channels, "maxpool")
    detector = FasterRCNNDetector(
        fpn_channels,
        neck.strides,
        neck.backbone_levels,
        num_classes,
        scales,
        ratios,
        proposals,
        roi_samples,
        mlp_channels,
    )
    return DetectorParts(neck, detector)


def build_det_head(
    section: dict[str, Any], in_channels: list[int], strides: list[int], num_classes: int
) -> DetectorParts:
    """Build the neck and detector a resolved `model.head` section names, checking its keys first.

    Raises:
        ConfigError: for an unknown head name (listing fcos, retinanet, faster_rcnn) or key, or a bad value.
    """
    entry = DET_HEADS.get(str(section.get("name")))
    params = preset_params(section)
    allowed = list(inspect.signature(entry.factory).parameters)[3:]  # after channels, strides, classes
    for key in params:
        if key not in allowed:
            raise ConfigError(f"{_KEY}.{key}", f"not a {entry.name} setting; allowed: {', '.join(allowed)}")
    return entry.factory(in_channels, strides, num_classes, **params)


def _check_int(key: str, value: Any, minimum: int, multiple_of: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or value % multiple_of:
        rule = f"an integer ≥ {minimum}" + (f" and a multiple of {multiple_of}" if multiple_of > 1 else "")
        raise ConfigError(f"{_KEY}.{key}", f"must be {rule}, got {shown(value)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_positive_number(key: str, value: Any) -> None:
    if not _is_number(value) or value <= 0:
        raise ConfigError(f"{_KEY}.{key}", f"must be a number > 0, got {shown(value)}")


def _positive_numbers(key: str, values: Any) -> list[float]:
    if not isinstance(values, list | tuple) or not values or not all(_is_number(v) and v > 0 for v in values):
        raise ConfigError(f"{_KEY}.{key}", f"must be a non-empty list of numbers > 0, got {shown(values)}")
    return [float(v) for v in values]
