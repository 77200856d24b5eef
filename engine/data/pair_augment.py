"""Augmentations that can move masks with their images: `none`, and flip + scale/crop + colour jitter.

Every factory takes `no_aug_steps` / `no_aug_epochs` (the augmentation section's tail without augmentation) and
leaves them to the trainer, which switches the augmentation off for that tail (`engine.data.augment.Switchable`).

They have their own registry, PAIR_AUGMENTS (`none`, `seg_basic`, `cls_basic`; presets in
presets/augment/), next to the VPR one: the segmentation task needs `aug.pair(images, masks, generator)`,
which applies every geometric change to the mask too (nearest-neighbour, so labels stay labels) and
colour jitter to the image alone. Called as `aug(images, generator)` they change images only, which is
what classification uses; classification also accepts the VPR augmentations (`build_image_augment`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.core.config import preset_params
from engine.core.errors import ConfigError, unknown_choice
from engine.core.registry import Registry
from engine.data.augment import AUGMENTS, Augment

PAIR_AUGMENTS = Registry("augmentation", "augment.name")

_KEY = "augment"
_DRAWS = 7  # uniform numbers per image: flip, scale, x, y, brightness, contrast, saturation
_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


@dataclass(frozen=True)
class FlipScaleJitterParams:
    """Strengths; each random factor is drawn uniformly per image."""

    flip_p: float  # probability of a horizontal flip
    scale_min: float  # zoom factor range (log-uniform): > 1 crops a part, < 1 shrinks and pads
    scale_max: float
    brightness: float  # factor in 1 ± this
    contrast: float  # factor in 1 ± this, about the image mean
    saturation: float  # factor in 1 ± this, about the grey image


class FlipScaleJitter:
    """The augmentation; all randomness comes from the generator passed at each call.

    Attributes:
        ignore_value: Mask value written where a shrunk image leaves padding (no label there).
    """

    def __init__(self, params: FlipScaleJitterParams, ignore_value: int = 255) -> None:
        self.params = params
        self.ignore_value = ignore_value

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """B×3×H×W float in [0, 1] -> same shape, in [0, 1]."""
        return self.pair(images, None, generator)[0]

    def pair(
        self, images: torch.Tensor, masks: torch.Tensor | None, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images B×3×H×W in [0, 1] and masks B×H×W of labels -> both transformed by the same geometry."""
        u = torch.rand(images.shape[0], _DRAWS, generator=generator, device=generator.device).to(
            images.device
        )
        grid = self._grid(u[:, :4], images.shape)
        out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        out = self._jitter(out, u[:, 4:]).clamp_(0.0, 1.0)
        if masks is None:
            return out, None
        # A second channel of ones marks the pixels that came from inside the image (the rest is padding).
        both = torch.stack([masks.float(), torch.ones_like(masks, dtype=torch.float)], 1)
        sampled = F.grid_sample(both, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        labels = torch.where(sampled[:, 1] > 0.5, sampled[:, 0], float(self.ignore_value))
        return out, labels.round().to(masks.dtype)

    def _grid(self, u: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """Sampling grid of a flip, a zoom by s and a shift keeping the window on the image (or the image in it)."""
        pp = self.params
        log_lo, log_hi = math.log(pp.scale_min), math.log(pp.scale_max)
        scale = torch.exp(log_lo + u[:, 1] * (log_hi - log_lo))  # B
        sign = torch.where(u[:, 0] < pp.flip_p, -1.0, 1.0)
        reach = (1 - 1 / scale).abs()  # how far the window may move: inside the image, or the image inside it
        tx, ty = (2 * u[:, 2] - 1) * reach, (2 * u[:, 3] - 1) * reach
        zero = torch.zeros_like(scale)
        theta = torch.stack(
            [torch.stack([sign / scale, zero, tx], 1), torch.stack([zero, 1 / scale, ty], 1)], 1
        )
        return F.affine_grid(theta, list(shape), align_corners=False)

    def _jitter(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Brightness, contrast (about the image mean) and saturation (about its grey version), per image."""
        pp = self.params
        factors = 1 + (2 * u - 1) * torch.tensor([pp.brightness, pp.contrast, pp.saturation], device=x.device)
        x = x * factors[:, 0].view(-1, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = torch.lerp(mean, x, factors[:, 1].view(-1, 1, 1, 1))
        grey = (x * _LUMA.to(x.device)).sum(1, keepdim=True)
        return torch.lerp(grey, x, factors[:, 2].view(-1, 1, 1, 1))


class IdentityPair:
    """No augmentation, for images alone or with their masks."""

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return images

    def pair(
        self, images: torch.Tensor, masks: torch.Tensor | None, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return images, masks


def _build(
    flip_p: float, scale_min: float, scale_max: float, brightness: float, contrast: float, saturation: float
) -> FlipScaleJitter:
    if not 0.0 <= flip_p <= 1.0:
        raise ConfigError(f"{_KEY}.flip_p", f"is a probability, must be in [0, 1], got {flip_p}")
    if not 0.0 < scale_min <= scale_max:
        raise ConfigError(
            f"{_KEY}.scale_min", f"need 0 < scale_min <= scale_max, got {scale_min} and {scale_max}"
        )
    for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{_KEY}.{name}", f"must be in [0, 1), got {value}")
    return FlipScaleJitter(
        FlipScaleJitterParams(flip_p, scale_min, scale_max, brightness, contrast, saturation)
    )


@PAIR_AUGMENTS.register("seg_basic")
def seg_basic(
    flip_p: float = 0.5,
    scale_min: float = 0.75,
    scale_max: float = 1.5,
    brightness: float = 0.25,
    contrast: float = 0.25,
    saturation: float = 0.25,
    no_aug_steps: int = 0,
    no_aug_epochs: float = 0.0,
) -> FlipScaleJitter:
    """Segmentation: flip, scale 0.75-1.5 + crop/pad (masks follow, padding unlabelled), colour jitter."""
    return _build(flip_p, scale_min, scale_max, brightness, contrast, saturation)


@PAIR_AUGMENTS.register("cls_basic")
def cls_basic(
    flip_p: float = 0.5,
    scale_min: float = 1.0,
    scale_max: float = 1.3,
    brightness: float = 0.25,
    contrast: float = 0.25,
    saturation: float = 0.25,
    no_aug_steps: int = 0,
    no_aug_epochs: float = 0.0,
) -> FlipScaleJitter:
    """Classification: flip, random zoom-in crop up to 1.3x, colour jitter."""
    return _build(flip_p, scale_min, scale_max, brightness, contrast, saturation)


@PAIR_AUGMENTS.register("none")
def none(no_aug_steps: int = 0, no_aug_epochs: float = 0.0) -> IdentityPair:
    """No augmentation: images (and masks) pass through unchanged."""
    return IdentityPair()


def build_image_augment(section: dict) -> Augment:
    """An image-only augmentation from a resolved `augment` section: a pair augmentation or a VPR one."""
    name = section["name"]
    for registry in (PAIR_AUGMENTS, AUGMENTS):
        if name in registry:
            return registry.build(name, **preset_params(section))
    raise ConfigError(
        "augment.name", unknown_choice("augmentation", name, {*PAIR_AUGMENTS.names(), *AUGMENTS.names()})
    )
