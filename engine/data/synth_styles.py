"""Capture styles applied to rendered views: clean (train, database), shifted 'sim2real' and 'night' queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

# YIQ: hue is a rotation of the (I, Q) chroma plane, saturation its scale.
_RGB2YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_YIQ2RGB = np.linalg.inv(_RGB2YIQ).astype(np.float32)

Style = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, int]]


def clean(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Daylight capture: slight exposure and white-balance differences, high JPEG quality."""
    img = img * np.float32(rng.uniform(0.9, 1.1)) * rng.uniform(0.96, 1.04, 3).astype(np.float32)
    return _to_uint8(img), 90


@dataclass(frozen=True)
class Shift:
    """Ranges of the 'sim2real' query style (each factor drawn uniformly per image)."""

    hue_deg: float = 50.0  # hue rotation up to ± this
    saturation: tuple[float, float] = (0.6, 1.35)
    color_cast: float = 0.2  # per-channel gains in 1 ± this
    contrast: tuple[float, float] = (0.65, 1.3)
    brightness: tuple[float, float] = (0.75, 1.2)
    log_gamma: float = 0.35  # gamma exp(± this)
    vignette: tuple[float, float] = (0.2, 0.5)
    blur_px: tuple[float, float] = (0.3, 0.9)  # Gaussian sigma at the stored size
    noise: tuple[float, float] = (0.01, 0.035)
    jpeg_quality: tuple[int, int] = (35, 75)
    occluders: float = 0.7  # mean number (Poisson, at most 3)


SIM2REAL = Shift()


def sim2real(img: np.ndarray, rng: np.random.Generator, shift: Shift = SIM2REAL) -> tuple[np.ndarray, int]:
    """Another camera and season: occluders, hue/cast/saturation, contrast, gamma, vignetting, blur, noise, JPEG."""
    img = _occluders(img, rng, shift.occluders)
    img = img @ _color_matrix(rng, np.radians(shift.hue_deg), shift.saturation, shift.color_cast).T
    mean = img.mean()
    img = (img - mean) * np.float32(rng.uniform(*shift.contrast)) + mean * np.float32(
        rng.uniform(*shift.brightness)
    )
    img = np.clip(img, 0, 1) ** np.float32(np.exp(rng.uniform(-shift.log_gamma, shift.log_gamma)))
    img = img * _vignette(img.shape[:2], rng.uniform(*shift.vignette))
    img = _blur(img, rng.uniform(*shift.blur_px))
    img = img + rng.normal(0, rng.uniform(*shift.noise), img.shape).astype(np.float32)
    return _to_uint8(img), int(rng.integers(shift.jpeg_quality[0], shift.jpeg_quality[1] + 1))


def night(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A night capture of a night render: exposure gain, lens softness, strong sensor noise."""
    img = img * np.float32(rng.uniform(0.8, 1.3))
    img = _blur(img, rng.uniform(0.3, 0.8))
    img = img + rng.normal(0, rng.uniform(0.02, 0.05), img.shape).astype(np.float32)
    return _to_uint8(img), int(rng.integers(40, 81))


STYLES: dict[str, Style] = {"clean": clean, "sim2real": sim2real, "night": night}


def _color_matrix(rng: np.random.Generator, hue: float, sat: tuple[float, float], cast: float) -> np.ndarray:
    """One 3x3 RGB matrix: hue rotation and saturation in YIQ, then per-channel gains (a colour cast)."""
    angle, scale = rng.uniform(-hue, hue), rng.uniform(*sat)
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    rot = np.array([[1, 0, 0], [0, c, -s], [0, s, c]], np.float32)
    gains = np.diag(rng.uniform(1 - cast, 1 + cast, 3)).astype(np.float32)
    return gains @ _YIQ2RGB @ rot @ _RGB2YIQ


def _vignette(shape: tuple[int, int], strength: float) -> np.ndarray:
    """Radial darkening (H, W, 1): 1 at the centre, 1 - strength in the corners."""
    y = np.linspace(-1, 1, shape[0], dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, shape[1], dtype=np.float32)[None, :]
    return (1 - np.float32(strength) * (x * x + y * y) / 2)[..., None]


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur via Pillow (works on uint8)."""
    blurred = Image.fromarray(_to_uint8(img)).filter(ImageFilter.GaussianBlur(float(sigma)))
    return np.asarray(blurred, np.float32) / 255.0


def _occluders(img: np.ndarray, rng: np.random.Generator, mean_count: float) -> np.ndarray:
    """0-3 foreign objects (people, poles, bins, vehicles): flat boxes or ellipses of random colour."""
    h, w = img.shape[:2]
    img = img.copy()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(min(rng.poisson(mean_count), 3)):
        bw, bh = rng.uniform(0.05, 0.3) * w, rng.uniform(0.15, 0.7) * h
        cx = rng.uniform(0, w)
        cy = h - bh / 2 if rng.random() < 0.6 else rng.uniform(0, h)  # most stand on the ground
        dx, dy = (xx - cx) / (bw / 2), (yy - cy) / (bh / 2)
        mask = dx * dx + dy * dy < 1 if rng.random() < 0.5 else (np.abs(dx) < 1) & (np.abs(dy) < 1)
        img[mask] = rng.uniform(0, 1, 3).astype(np.float32) * np.float32(rng.uniform(0.3, 1.0))
    return img


def _to_uint8(img: np.ndarray) -> np.ndarray:
    """Float [0, 1] (H, W, 3) to uint8, rounding."""
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
