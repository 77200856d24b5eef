"""Detection figure: sample images side by side with their ground-truth boxes and the detector's boxes (class
colour, score), so a researcher sees what the mAP hides: missed small objects, duplicates, wrong classes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from engine.figures.canvas import BACKGROUND, INK, font, palette, text_width, thumb_size, titled
from engine.figures.figure import Figure
from engine.figures.overlays import class_legend

GAP = 8
HEADER = 18
COLUMNS = ("ground truth", "detections")
#: Box colours: saturated and far apart in hue, readable over street scenes (the segmentation palette's first
#: classes, road and sidewalk, are two purples); more classes take the shared palette's.
BOX_COLOURS = ((255, 140, 0), (0, 200, 255), (60, 220, 60), (255, 50, 50), (255, 230, 0), (190, 110, 255))
SCORE_SHOWN = 0.3
"""Detections drawn score at least this (the evaluation keeps lower ones for mAP; drawn, they hide the image)."""


@dataclass
class DetectionSample:
    """One evaluated image kept for the figure, with boxes in its pixels."""

    index: int
    image: np.ndarray  # (H, W, 3) uint8
    boxes: np.ndarray  # (n, 4) ground truth x1, y1, x2, y2
    labels: np.ndarray  # (n,)
    predicted: np.ndarray  # (m, 4)
    predicted_labels: np.ndarray  # (m,)
    scores: np.ndarray  # (m,)


def box_colours(num_classes: int) -> np.ndarray:
    """num_classes×3 uint8 box colours, one per class index."""
    extra = palette(num_classes)[len(BOX_COLOURS) :]
    return np.concatenate([np.array(BOX_COLOURS[:num_classes], np.uint8).reshape(-1, 3), extra])


def render_detections(
    split: str, samples: Sequence[DetectionSample], class_names: Sequence[str], score: str
) -> Figure:
    """The detections figure of one test split; `score` is the split's headline number for the caption."""
    colours = box_colours(len(class_names))
    height, width = samples[0].image.shape[:2] if samples else (64, 64)
    size = thumb_size((height, width), len(COLUMNS), 180, GAP)
    scale = size[0] / max(height, 1)
    body = Image.new(
        "RGB",
        (GAP + len(COLUMNS) * (size[1] + GAP), HEADER + len(samples) * (size[0] + GAP) + GAP),
        BACKGROUND,
    )
    draw = ImageDraw.Draw(body)
    for column, name in enumerate(COLUMNS):
        draw.text((GAP + column * (size[1] + GAP), 2), name, fill=INK, font=font(12))
    shown: set[int] = set()
    for row, sample in enumerate(samples):
        top = HEADER + row * (size[0] + GAP)
        thumb = Image.fromarray(sample.image).resize((size[1], size[0]), Image.Resampling.BILINEAR)
        keep = sample.scores >= SCORE_SHOWN
        panels = (
            (sample.boxes, sample.labels, None),
            (sample.predicted[keep], sample.predicted_labels[keep], sample.scores[keep]),
        )
        for column, (boxes, labels, scores) in enumerate(panels):
            left = GAP + column * (size[1] + GAP)
            body.paste(thumb, (left, top))
            for position, (box, label) in enumerate(zip(boxes, labels.tolist())):
                colour = tuple(int(c) for c in colours[int(label) % len(colours)])
                x1, y1, x2, y2 = (float(v) * scale for v in box)
                draw.rectangle((left + x1, top + y1, left + x2, top + y2), outline=colour, width=2)
                if scores is not None:
                    tag = f"{float(scores[position]):.2f}"
                    draw.rectangle(
                        (left + x1, top + y1, left + x1 + text_width(tag, 9) + 3, top + y1 + 10), fill=colour
                    )
                    draw.text((left + x1 + 2, top + y1), tag, fill=(255, 255, 255), font=font(9))
                shown.add(int(label))
        found = int(keep.sum())
        label = (
            f"image {sample.index} · {len(sample.boxes)} objects · {found} found at score >= {SCORE_SHOWN:g}"
        )
        draw.rectangle((GAP, top, GAP + text_width(label, 11) + 6, top + 15), fill=(0, 0, 0))
        draw.text((GAP + 3, top + 1), label, fill=(255, 255, 255), font=font(11))
    legend = class_legend(
        [(class_names[c], tuple(colours[c])) for c in sorted(shown) if c < len(class_names)], body.width
    )
    figure = Image.new("RGB", (body.width, body.height + legend.height), BACKGROUND)
    figure.paste(body, (0, 0))
    figure.paste(legend, (0, body.height))
    caption = f"{len(samples)} images: ground truth | detections (score >= {SCORE_SHOWN:g}); {score}"
    return Figure(split, "detections", titled(figure, f"{split}: ground truth | detections"), caption)
