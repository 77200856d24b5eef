"""Read one image or label file: decode (JPEGs scaled while decoding), convert, resize; errors name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from engine.core.errors import UserError

try:
    import simplejpeg
except ImportError:  # the console-only install: Pillow alone
    simplejpeg = None

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_LABEL_MODES = ("L", "P", "I", "I;16")


class UnreadableFile(UserError):
    """An image or label file that cannot be decoded (truncated, not an image, wrong kind)."""


def read_rgb(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W, 3) uint8; resized to `size` (H, W) when given, after decoding at the nearest larger scale.

    JPEGs go through libjpeg-turbo's scaled decoding (simplejpeg: any n/8 scale, 3× faster than Pillow on small
    images); anything else, or a JPEG it cannot take (CMYK, arithmetic coding), through Pillow.

    Raises:
        UnreadableFile: naming the file and why.
    """
    if str(path).lower().endswith((".jpg", ".jpeg")):
        rgb = _read_jpeg(path, size)
        if rgb is not None:
            return rgb if size is None or rgb.shape[:2] == tuple(size) else _resized(rgb, size)
    try:
        with Image.open(path) as img:
            if size is not None:
                img.draft("RGB", (size[1], size[0]))  # JPEG: decode at 1/2..1/8 scale, still >= size
            rgb = img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableFile(f"cannot read image {path}: {_reason(exc)}") from None
    if size is not None and rgb.size != (size[1], size[0]):
        rgb = rgb.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(rgb)


def _read_jpeg(path: str | Path, size: tuple[int, int] | None) -> np.ndarray | None:
    """A JPEG decoded at the smallest n/8 scale still >= `size`, or None to let Pillow try."""
    if simplejpeg is None:
        return None
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise UnreadableFile(f"cannot read image {path}: {_reason(exc)}") from None
    try:
        if size is None:
            return simplejpeg.decode_jpeg(data, colorspace="RGB")
        return simplejpeg.decode_jpeg(data, colorspace="RGB", min_height=size[0], min_width=size[1])
    except ValueError:
        return None  # Pillow decodes what libjpeg-turbo refuses, or names the file in its error


def _resized(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((size[1], size[0]), Image.Resampling.BILINEAR))


def read_labels(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W) raw values of a single-channel label PNG (palette indices as they are), nearest-resized to `size`.

    Raises:
        UnreadableFile: an undecodable file, or a colour image where class indices were expected.
    """
    try:
        with Image.open(path) as img:
            if img.mode not in _LABEL_MODES:
                raise UnreadableFile(
                    f"label image {path} is a {img.mode} image: expected a single-channel PNG of "
                    f"class indices (mode L or P)"
                )
            if size is not None and img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), Image.Resampling.NEAREST)
            values = np.asarray(img)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableFile(f"cannot read label image {path}: {_reason(exc)}") from None
    return values


def image_size_of(path: str | Path) -> tuple[int, int]:
    """(H, W) from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as img:
            return img.size[1], img.size[0]
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise UnreadableFile(f"cannot read image {path}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.split("\n", 1)[0]
