"""Segmentation overlays: per sample image a row of the image, its ground truth and the prediction, each
colourised and blended over the image, with a legend of the classes shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from engine.figures.canvas import (
    BACKGROUND,
    INK,
    MUTED,
    fit_text,
    font,
    palette,
    text_width,
    thumb_size,
    titled,
)
from engine.figures.figure import Figure

GAP = 8
HEADER = 18
ALPHA = 0.55  # share of the class colour over the image: classes readable, the scene still recognisable
COLUMNS = ("image", "ground truth", "prediction")


@dataclass
class OverlaySample:
    """One evaluated image kept for the figure: pixels at eval size, and its labels and prediction at the
    label's own resolution (both shrunk to thumbnail size when captured)."""

    index: int
    image: np.ndarray  # (H, W, 3) uint8
    target: np.ndarray  # (h, w) class indices, `ignore` where unlabelled
    prediction: np.ndarray  # (h, w) class indices


def shrink_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) class indices nearest-resized to `size` (height, width), for keeping only a thumbnail."""
    rows = np.linspace(0, labels.shape[0] - 1, size[0]).round().astype(np.int64)
    cols = np.linspace(0, labels.shape[1] - 1, size[1]).round().astype(np.int64)
    return labels[rows][:, cols]


def blend(image: np.ndarray, labels: np.ndarray, colours: np.ndarray, ignore: int) -> np.ndarray:
    """Class colours over `image` (same H×W); unlabelled pixels show the image darkened."""
    known = labels != ignore
    coloured = colours[np.where(known, labels, 0).clip(0, len(colours) - 1)].astype(np.float32)
    out = image.astype(np.float32)
    out = np.where(known[..., None], (1 - ALPHA) * out + ALPHA * coloured, 0.4 * out)
    return out.round().astype(np.uint8)


def render_overlays(
    split: str, samples: Sequence[OverlaySample], class_names: Sequence[str], ignore: int, score: str
) -> Figure:
    """The overlay figure of one test split; `score` is the split's headline number for the caption."""
    colours = palette(len(class_names))
    height, width = samples[0].image.shape[:2] if samples else (64, 64)
    size = thumb_size((height, width), len(COLUMNS), 150, GAP)
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
        image = np.asarray(
            Image.fromarray(sample.image).resize((size[1], size[0]), Image.Resampling.BILINEAR)
        )
        target, prediction = shrink_labels(sample.target, size), shrink_labels(sample.prediction, size)
        labelled = target != ignore
        accuracy = 100.0 * float((prediction == target)[labelled].mean()) if labelled.any() else 0.0
        shown |= set(np.unique(target[labelled]).tolist()) | set(np.unique(prediction).tolist())
        top = HEADER + row * (size[0] + GAP)
        for column, pixels in enumerate(
            (image, blend(image, target, colours, ignore), blend(image, prediction, colours, ignore))
        ):
            body.paste(Image.fromarray(pixels), (GAP + column * (size[1] + GAP), top))
        left = GAP + 2 * (size[1] + GAP)
        label = f"image {sample.index} · acc {accuracy:.0f}%"
        draw.rectangle((left, top, left + text_width(label, 11) + 6, top + 15), fill=(0, 0, 0))
        draw.text((left + 3, top + 1), label, fill=(255, 255, 255), font=font(11))
    legend = class_legend(
        [(class_names[c], tuple(colours[c])) for c in sorted(shown) if c < len(class_names)], body.width
    )
    figure = Image.new("RGB", (body.width, body.height + legend.height), BACKGROUND)
    figure.paste(body, (0, 0))
    figure.paste(legend, (0, body.height))
    caption = f"{len(samples)} images: image | ground truth | prediction; {score}"
    return Figure(split, "overlay", titled(figure, f"{split}: image | ground truth | prediction"), caption)


def class_legend(entries: Sequence[tuple[str, tuple[int, ...]]], width: int) -> Image.Image:
    """Coloured squares with class names, wrapped to `width`."""
    item_w, line_h = 120, 18
    per_line = max(1, (width - GAP) // item_w)
    lines = max(1, -(-len(entries) // per_line))
    out = Image.new("RGB", (width, lines * line_h + GAP), BACKGROUND)
    draw = ImageDraw.Draw(out)
    if not entries:
        draw.text((GAP, 2), "no labelled pixels", fill=MUTED, font=font(11))
    for position, (name, colour) in enumerate(entries):
        left, top = GAP + (position % per_line) * item_w, (position // per_line) * line_h
        draw.rectangle((left, top + 3, left + 11, top + 14), fill=tuple(int(c) for c in colour))
        draw.text((left + 16, top + 2), fit_text(name, item_w - 20, 11), fill=INK, font=font(11))
    return out
