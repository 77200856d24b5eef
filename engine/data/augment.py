"""Training augmentations on whole batches (B×3×H×W float in [0, 1]): `none` and the camera/season `vpr_shift`.

They run in the training process on each batch the workers read (not in the workers), so switching one off takes
effect at the very next step: `Switchable` is how the trainer does it for the no-augmentation tail
(`augment.no_aug_steps` / `no_aug_epochs`, which every factory takes and leaves to it) and for
`labconsole set RUN augment.enabled=off`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from engine.core.registry import Registry

AUGMENTS = Registry("augmentation", "augment.name")

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

# YIQ: hue is a rotation of the (I, Q) chroma plane, saturation its scale.
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ2RGB = torch.linalg.inv(_RGB2YIQ)
_OCCLUDERS = 3  # slots per image; `occluders` is the mean number actually drawn
_DRAWS = 48  # uniform numbers drawn per image: one column range per operation (see VPRShift.__call__)


@AUGMENTS.register("none")
def none(no_aug_steps: int = 0, no_aug_epochs: float = 0.0) -> Augment:
    """No augmentation: images pass through unchanged."""

    def identity(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return images

    return identity


@AUGMENTS.register("vpr_shift")
def vpr_shift(
    p: float = 0.8,
    zoom: float = 0.35,
    roll_deg: float = 9.0,
    translate: float = 0.12,
    hue_deg: float = 75.0,
    saturation: float = 0.6,
    color_cast: float = 0.3,
    contrast: float = 0.45,
    brightness: float = 0.35,
    gamma: float = 0.5,
    vignette: float = 0.7,
    blur: float = 1.0,
    noise: float = 0.06,
    jpeg: float = 0.6,
    occluders: float = 1.2,
    night_p: float = 0.0,
    no_aug_steps: int = 0,
    no_aug_epochs: float = 0.0,
) -> Augment:
    """Camera and season shift for VPR: zoom, roll, hue, cast, contrast, tone, vignette, blur, noise, JPEG, occluders."""
    return VPRShift(
        ShiftParams(
            p,
            zoom,
            roll_deg,
            translate,
            hue_deg,
            saturation,
            color_cast,
            contrast,
            brightness,
            gamma,
            vignette,
            blur,
            noise,
            jpeg,
            occluders,
            night_p,
        )
    )


@dataclass(frozen=True)
class ShiftParams:
    """Strength knobs of `vpr_shift`; each random factor is drawn uniformly up to its knob, per image."""

    p: float  # share of images that get the photometric shift (the rest stay clean, like the database)
    zoom: float  # zoom-in up to 1 + zoom (geometry applies to every image)
    roll_deg: float  # in-plane rotation up to ± this
    translate: float  # shift up to ± this fraction of the width (half of that vertically)
    hue_deg: float  # hue rotation up to ± this
    saturation: float  # saturation factor in 1 ± this
    color_cast: float  # per-channel gains in 1 ± this
    contrast: float  # contrast factor in 1 ± this
    brightness: float  # brightness factor in 1 ± this
    gamma: float  # tone curve x + g·x·(1 − x), g up to ± this (a cheap gamma: 0.5 ≈ gamma 0.7 … 1.4)
    vignette: float  # corner darkening up to this fraction
    blur: float  # blend weight, up to this, towards a 3×3 box blur (about a 0.8 px Gaussian)
    noise: float  # Gaussian sensor-noise std up to this
    jpeg: float  # blend weight, up to this, towards 4×4 block means (a JPEG proxy)
    occluders: float  # mean number of flat foreign objects per shifted image (at most 3)
    night_p: float  # share of shifted images also given a dark, warm, low-contrast night look


class VPRShift:
    """Applies `ShiftParams` to a batch; all randomness comes from the generator passed at each call."""

    def __init__(self, params: ShiftParams) -> None:
        self.params = params

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """B×3×H×W float in [0, 1] -> same shape, in [0, 1]. The generator may live on the CPU."""
        u = torch.rand(images.shape[0], _DRAWS, generator=generator, device=generator.device).to(
            images.device
        )
        on = (u[:, 0] < self.params.p).float()  # B: images that get the photometric shift
        x = self._geometry(images, u[:, 1:5])
        x = self._occlude(x, u[:, 5 : 5 + 9 * _OCCLUDERS], on)
        x = self._color(x, u[:, 32:40], on)
        x = self._optics(x, u[:, 40:43], on, generator)
        x = self._night(x, u[:, 43:46], on)
        return self._jpeg(x, u[:, 46], on).clamp_(0.0, 1.0)

    def _geometry(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Random zoom-in, roll and translation: one batched bilinear resampling, reflecting at the borders."""
        _, _, h, w = x.shape
        pp = self.params
        scale = 1.0 / (1.0 + pp.zoom * u[:, 0])  # B: sampling a smaller window = zooming in
        angle = (2 * u[:, 1] - 1) * math.radians(pp.roll_deg)
        cos, sin = (torch.cos(angle) * scale).view(-1, 1, 1), (torch.sin(angle) * scale).view(-1, 1, 1)
        tx = ((2 * u[:, 2] - 1) * pp.translate * 2).view(-1, 1, 1)  # normalised units: 2 = the full width
        ty = ((2 * u[:, 3] - 1) * pp.translate).view(-1, 1, 1)
        gx = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=x.device).view(1, 1, w)  # pixel centres
        gy = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=x.device).view(1, h, 1)
        # A rotation in pixels, written in normalised coordinates (x spans w pixels, y spans h).
        grid = torch.stack(
            [cos * gx - sin * (h / w) * gy + tx, sin * (w / h) * gx + cos * gy + ty], -1
        )  # B×H×W×2
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def _occlude(self, x: torch.Tensor, u: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
        """Up to three flat boxes or ellipses of random colour (people, poles, bins), most standing on the ground."""
        _, _, h, w = x.shape
        yy = torch.linspace(0, 1, h, device=x.device).view(1, h, 1)
        xx = torch.linspace(0, 1, w, device=x.device).view(1, 1, w)
        for slot in u.view(-1, _OCCLUDERS, 9).unbind(1):  # each B×9
            present = (slot[:, 0] < self.params.occluders / _OCCLUDERS).float() * on
            half_w, half_h = 0.025 + 0.125 * slot[:, 1], 0.075 + 0.275 * slot[:, 2]
            cy = torch.where(slot[:, 4] < 0.6, 1 - half_h, slot[:, 4])  # most stand on the bottom edge
            dx = (xx - slot[:, 3].view(-1, 1, 1)) / half_w.view(-1, 1, 1)  # B×1×W
            dy = (yy - cy.view(-1, 1, 1)) / half_h.view(-1, 1, 1)  # B×H×1
            ellipse = slot[:, 5].view(-1, 1, 1) < 0.5
            inside = torch.where(
                ellipse, dx * dx + dy * dy < 1, torch.maximum(dx.abs(), dy.abs()) < 1
            )  # B×H×W
            mask = (inside.float() * present.view(-1, 1, 1)).unsqueeze(1)  # B×1×H×W
            color = (slot[:, 6:9] * (0.3 + 0.7 * slot[:, 5:6])).view(-1, 3, 1, 1)
            x = torch.lerp(x, color.expand_as(x), mask)
        return x

    def _color(self, x: torch.Tensor, u: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
        """Hue, saturation, colour cast, contrast and brightness as one affine map per image; then a tone curve."""
        b, _, h, w = x.shape
        pp = self.params
        sym = (2 * u - 1) * on.unsqueeze(1)  # B×8 in [-1, 1], 0 for images left clean
        angle = sym[:, 0] * math.radians(pp.hue_deg)
        sat = 1 + sym[:, 1] * pp.saturation
        c, s = torch.cos(angle) * sat, torch.sin(angle) * sat
        one, zero = torch.ones_like(c), torch.zeros_like(c)
        rot = torch.stack([one, zero, zero, zero, c, -s, zero, s, c], 1).view(-1, 3, 3)
        gains = torch.diag_embed(1 + sym[:, 2:5] * pp.color_cast)
        matrix = gains @ _YIQ2RGB.to(x.device) @ rot @ _RGB2YIQ.to(x.device)  # B×3×3
        # Contrast k and brightness m about the image mean mu: y = k·(Mx − mu) + m·mu, folded into (A, t).
        k = (1 + sym[:, 5] * pp.contrast).view(-1, 1, 1)
        mu = (matrix @ x.mean(dim=(2, 3)).unsqueeze(2)).mean(dim=1, keepdim=True)  # B×1×1
        offset = ((1 + sym[:, 6] * pp.brightness).view(-1, 1, 1) - k) * mu  # B×1×1
        y = (
            torch.baddbmm(offset.expand(-1, 3, 1), k * matrix, x.reshape(b, 3, h * w))
            .view(b, 3, h, w)
            .clamp_(0, 1)
        )
        bend = (sym[:, 7] * pp.gamma).view(-1, 1, 1, 1)  # tone curve instead of pow: 10x cheaper on CPU
        return torch.addcmul(y, y * (1 - y), bend)

    def _optics(
        self, x: torch.Tensor, u: torch.Tensor, on: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """Lens blur (a blend towards a 3×3 box blur), vignetting and sensor noise (luma)."""
        b, _, h, w = x.shape
        pp = self.params
        if pp.blur > 0:
            x = torch.lerp(x, _box3(x), (u[:, 1] * on * pp.blur).view(-1, 1, 1, 1))
        yy = torch.linspace(-1, 1, h, device=x.device).view(h, 1)
        xx = torch.linspace(-1, 1, w, device=x.device).view(1, w)
        radius2 = (xx * xx + yy * yy) / 2  # H×W, 1 in the corners
        shade = 1 - (u[:, 0] * on * pp.vignette).view(-1, 1, 1, 1) * radius2  # B×1×H×W
        noise = torch.randn((b, 1, h, w), generator=generator, device=generator.device).to(x.device)
        return torch.addcmul(x * shade, noise, (u[:, 2] * on * pp.noise).view(-1, 1, 1, 1))

    def _night(self, x: torch.Tensor, u: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
        """For a `night_p` share: crush the exposure (bright lights survive), warm tint, low contrast."""
        pp = self.params
        if pp.night_p <= 0:
            return x
        night = ((u[:, 0] < pp.night_p).float() * on).view(-1, 1, 1, 1)
        y = x.clamp(0, 1)
        dark = y * y * y * (0.3 + 0.5 * u[:, 1]).view(-1, 1, 1, 1) + 0.02 * u[:, 2].view(-1, 1, 1, 1)
        dark = dark * torch.tensor([1.0, 0.85, 0.6], device=x.device).view(1, 3, 1, 1)
        return torch.lerp(x, dark, night)

    def _jpeg(self, x: torch.Tensor, u: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
        """A cheap JPEG stand-in: blend towards 4×4 block means (blocking, lost detail)."""
        pp = self.params
        if pp.jpeg <= 0:
            return x
        return torch.lerp(x, _blocks(x, 4), (u * on * pp.jpeg).view(-1, 1, 1, 1))


def _box3(x: torch.Tensor) -> torch.Tensor:
    """3×3 box blur (B×C×H×W) from shifted sums: several times faster than avg_pool2d(stride=1) on CPU."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    rows = p[..., :, :-2] + p[..., :, 1:-1] + p[..., :, 2:]
    return (rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]) / 9


def _blocks(x: torch.Tensor, size: int) -> torch.Tensor:
    """Each size×size block replaced by its mean (B×C×H×W; partial blocks at the edges are fine)."""
    b, c, h, w = x.shape
    means = F.avg_pool2d(x, size, ceil_mode=True)  # B×C×ceil(H/size)×ceil(W/size)
    hb, wb = means.shape[2:]
    tiled = means[:, :, :, None, :, None].expand(b, c, hb, size, wb, size).reshape(b, c, hb * size, wb * size)
    return tiled[:, :, :h, :w]


class Switchable:
    """An augmentation the trainer can switch off and on; off, images (and masks) pass through unchanged and the
    generator is not drawn from. Wraps an image augmentation (`aug(images, generator)`) or a pair one (`.pair`).

    Attributes:
        inner: The augmentation.
        enabled: Whether it runs.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.enabled = True

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.inner(images, generator) if self.enabled else images

    def pair(self, images: torch.Tensor, masks: Any, generator: torch.Generator) -> tuple[torch.Tensor, Any]:
        return self.inner.pair(images, masks, generator) if self.enabled else (images, masks)

    def boxes(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A box-aware augmentation (detection): targets B×M×5 rows (class, x1, y1, x2, y2) move with the pixels."""
        return self.inner.boxes(images, targets, generator) if self.enabled else (images, targets)
