"""Drawing helpers shared by the figures: fonts, text, thumbnails, frames and the class palette."""

from __future__ import annotations

import colorsys
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MAX_WIDTH = 1024
"""Widest figure written (pixels): a run grows by tens of kB per figure, not MB."""
BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
MUTED = (110, 110, 110)
CORRECT = (34, 160, 60)
WRONG = (215, 40, 40)
NEUTRAL = (60, 110, 200)

# Cityscapes' colours for the first classes (readable and familiar to segmentation researchers); more
# classes get evenly spaced hues.
_BASE_PALETTE = [
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (107, 142, 35), (70, 130, 180), (153, 153, 153),
    (220, 20, 60), (0, 0, 142), (250, 170, 30), (220, 220, 0), (102, 102, 156), (190, 153, 153),
    (152, 251, 152), (255, 0, 0), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
]  # fmt: skip


@cache
def font(size: int = 12) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at `size` pixels (no system fonts needed)."""
    return ImageFont.load_default(size=size)


def text_width(text: str, size: int = 12) -> int:
    """Width in pixels of `text` drawn at `size`."""
    return int(font(size).getlength(text))


def fit_text(text: str, width: int, size: int = 12) -> str:
    """`text`, cut with an ellipsis to fit `width` pixels."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def palette(num_classes: int) -> np.ndarray:
    """num_classes×3 uint8 colours, one per class index."""
    colours: list[tuple[int, ...]] = list(_BASE_PALETTE[:num_classes])
    for index in range(len(colours), num_classes):
        hue = (index * 0.618034) % 1.0  # golden-ratio steps keep neighbouring indices apart
        colours.append(tuple(round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.75, 0.9)))
    return np.array(colours, np.uint8).reshape(-1, 3)


def thumbnail(image: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """(H, W, 3) uint8 -> a PIL image of `size` (height, width)."""
    return Image.fromarray(image).convert("RGB").resize((size[1], size[0]), Image.Resampling.BILINEAR)


def framed(image: Image.Image, colour: tuple[int, int, int], border: int = 4) -> Image.Image:
    """`image` inside a solid border of `colour` (the correct/wrong marking)."""
    out = Image.new("RGB", (image.width + 2 * border, image.height + 2 * border), colour)
    out.paste(image, (border, border))
    return out


def thumb_size(image_size: tuple[int, int], columns: int, height: int, gap: int) -> tuple[int, int]:
    """(height, width) of a thumbnail keeping the aspect of `image_size`, so that `columns` of them fit
    MAX_WIDTH with `gap` pixels between them."""
    aspect = image_size[1] / max(image_size[0], 1)
    width = min(round(height * aspect), (MAX_WIDTH - gap * (columns + 1)) // columns)
    return max(8, round(width / aspect)), max(8, width)


def titled(body: Image.Image, title: str) -> Image.Image:
    """`body` under a one-line title."""
    out = Image.new("RGB", (max(body.width, text_width(title, 14) + 16), body.height + 26), BACKGROUND)
    ImageDraw.Draw(out).text((8, 5), title, fill=INK, font=font(14))
    out.paste(body, (0, 26))
    return out


def limit_width(image: Image.Image) -> Image.Image:
    """`image` scaled down to MAX_WIDTH when wider."""
    if image.width <= MAX_WIDTH:
        return image
    height = max(1, round(image.height * MAX_WIDTH / image.width))
    return image.resize((MAX_WIDTH, height), Image.Resampling.LANCZOS)
