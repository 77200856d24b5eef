"""The detection model: registry backbone -> multi-scale maps -> FPN neck -> torchvision detector head.

Images come letterboxed at `model.image_size` and normalised; boxes go in and come out in those input
pixels (x1, y1, x2, y2), labels 0..K-1. Training returns the loss components under short names
(`cls`, `box`, `centerness` / `objectness`, `rpn_box`); evaluation returns one dict per image.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torchvision.models.detection.image_list import ImageList

from engine.core.errors import ConfigError, shown
from engine.models.backbones import build_backbone
from engine.models.det_heads import (
    DetectionNeck,
    Detections,
    FasterRCNNDetector,
    FCOSDetector,
    RetinaNetDetector,
    Targets,
    build_det_head,
)
from engine.models.feature_taps import Tap, find_taps, multi_scale

GROUPS = ("backbone", "neck", "head")
#: eval.score_threshold, eval.nms_iou, eval.max_detections defaults (torchvision's differ per detector).
DEFAULT_POSTPROCESS = (0.05, 0.6, 100)
#: Finest backbone map the FPN reads: stride 8 finds 8-20 px objects in 160×256 images, while stride 4
#: would quadruple the head's cost on CPU for little gain (and torchvision's RetinaNet/FCOS start at 8 too).
MIN_LEVEL_STRIDE = 8


class DetectionModel(nn.Module):
    """Images (and targets in training) -> losses, or detections in evaluation.

    Attributes:
        backbone: The registry backbone, tapped at earlier stages for the FPN.
        neck: torchvision's FeaturePyramidNetwork with its extra levels (`DetectionNeck`).
        head: The torchvision detector without its backbone and transform (RPN and RoI heads included).
        taps: The earlier backbone stages the neck reads, finest first.
        num_classes: K.
        image_size: (height, width) the model is trained at.
    """

    def __init__(
        self,
        backbone: nn.Module,
        taps: list[Tap],
        neck: DetectionNeck,
        head: FCOSDetector | RetinaNetDetector | FasterRCNNDetector,
        num_classes: int,
        image_size: tuple[int, int],
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.head = head
        self.taps = taps
        self.num_classes = num_classes
        self.image_size = image_size

    def forward(self, images: Tensor, targets: Targets | None = None) -> dict[str, Tensor] | Detections:
        """B×3×H×W normalised images -> dict of losses (training, with targets) or per-image detections.

        Boxes with no width or height (an augmentation may squeeze one flat) are dropped from the targets:
        the anchor box coders would take the log of a zero size.
        """
        maps = multi_scale(self.backbone, self.taps, images)
        features = self.neck(maps)
        height, width = images.shape[-2:]
        image_list = ImageList(images, [(int(height), int(width))] * images.shape[0])
        if self.training:
            if targets is None:
                raise ValueError("a detection model in training mode needs targets")
            return self.head(features, image_list, [_proper_boxes(t) for t in targets])
        return self.head(features, image_list)

    def set_postprocess(self, score_threshold: float, nms_iou: float, max_detections: int) -> None:
        """Change the evaluation's score threshold, NMS IoU and detections kept per image.

        Raises:
            ConfigError: naming eval.score_threshold, eval.nms_iou or eval.max_detections for a bad value.
        """
        for key, value in (("score_threshold", score_threshold), ("nms_iou", nms_iou)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(f"eval.{key}", f"must be a number from 0 to 1, got {shown(value)}")
        if isinstance(max_detections, bool) or not isinstance(max_detections, int) or max_detections < 1:
            raise ConfigError("eval.max_detections", f"must be an integer ≥ 1, got {shown(max_detections)}")
        self.head.set_postprocess(float(score_threshold), float(nms_iou), max_detections)

    def module_groups(self) -> dict[str, nn.Module]:
        """The groups the freeze schedule and the optimizer's param groups address, by name."""
        return {"backbone": self.backbone, "neck": self.neck, "head": self.head}


def _proper_boxes(target: dict[str, Tensor]) -> dict[str, Tensor]:
    boxes, labels = target["boxes"], target["labels"]
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    if bool(keep.all()):
        return {"boxes": boxes.float(), "labels": labels.long()}
    return {"boxes": boxes[keep].float(), "labels": labels[keep].long()}


def box_targets(rows: Tensor) -> Targets:
    """Batch targets B×M×5 (class, x1, y1, x2, y2; class -1 pads) -> the model's list of {boxes, labels}."""
    targets = []
    for image_rows in rows:
        real = image_rows[image_rows[:, 0] >= 0]
        targets.append({"boxes": real[:, 1:5].float(), "labels": real[:, 0].long()})
    return targets


def build_detection_model(model_section: dict[str, Any], num_classes: int) -> DetectionModel:
    """Build a `DetectionModel` from the resolved `model` section (its aggregator is not used).

    The FPN reads the backbone maps at stride ≥ MIN_LEVEL_STRIDE (the last map always), and adds
    P6/P7 (FCOS, RetinaNet) or a max-pooled level (Faster R-CNN) above the deepest.

    Raises:
        ConfigError: for a bad backbone or head value (naming its key).
    """
    image_size = (int(model_section["image_size"][0]), int(model_section["image_size"][1]))
    backbone = build_backbone(model_section["backbone"], image_size)
    taps = [t for t in find_taps(backbone) if t.stride >= MIN_LEVEL_STRIDE]
    channels = [t.channels for t in taps] + [int(backbone.out_channels)]
    strides = [t.stride for t in taps] + [int(backbone.stride)]
    neck, head = build_det_head(model_section["head"], channels, strides, num_classes)
    model = DetectionModel(backbone, taps, neck, head, num_classes, image_size)
    model.set_postprocess(*DEFAULT_POSTPROCESS)  # the eval section's defaults, until the task sets its own
    return model


def detection_output_text(model: DetectionModel) -> str:
    """One line for `labconsole check`: detector, FPN levels with their strides, anchors per location."""
    neck = model.neck
    levels = ", ".join(f"{name}/{stride}" for name, stride in zip(neck.names, neck.strides, strict=True))
    detector = {FCOSDetector: "FCOS", RetinaNetDetector: "RetinaNet", FasterRCNNDetector: "Faster R-CNN"}
    return (
        f"{detector[type(model.head)]} on an FPN of {neck.out_channels} channels, levels (name/stride) "
        f"{levels}; {model.head.description}; {model.num_classes} classes"
    )
