"""Box-aware detection augmentations on whole batches (YOLOX style): `none`, `det_yolox`, `det_basic`.

Like engine/data/augment.py they run in the training process on each batch (images B×3×H×W float in [0, 1],
targets B×M×5 rows of class, x1, y1, x2, y2 in pixels, class -1 padding), with every random number drawn
from the generator passed at each call, so a run is reproducible and resumes where it stopped.

`det_yolox` follows YOLOX's training pipeline (yolox/data/datasets/mosaicdetection.py, data_augment.py) on
batch tensors: per output image, with its own probability each,
- mosaic: the image and 3 others of the batch on a 2W×2H canvas, meeting at a random centre (whole: YOLOX
  cuts them at the canvas edge, which only matters when the warp zooms out);
- random affine: rotation, scale, shear and translation of that canvas (or of the image) into W×H; a mosaic
  without it is cropped back around the canvas centre at scale 1;
- mixup: blended half and half with another batch image, zoomed by `mixup_scale_*`, flipped half the time and
  shifted; the boxes of both are kept (M grows);
- HSV: hue, saturation and value gains;
- flip: horizontal, after all of the above (boxes mirrored).
Boxes go through the same maps (4 corners -> enclosing box), are clipped, and YOLOX's filter drops the tiny,
thin or mostly cut-off ones. The probabilities are steerable mid-run: `probabilities()`, `set_probability()`.
Pixels are resampled nearest-neighbour in one gather per batch (engine/data/box_pixels.py says why); the
mixup blend is done in bytes, as YOLOX does. A batch of 16 images of 160×256 takes about 13-14 ms of one
CPU thread with everything on (det_yolox), 7.5-8 ms with det_basic (benchmarks/box_augment.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from engine.core.errors import ConfigError
from engine.core.registry import Registry
from engine.data.box_geometry import (
    box_candidates,
    clip_boxes,
    linear,
    pack_targets,
    random_affine,
    transform_boxes,
    translation,
)
from engine.data.box_pixels import NOTHING, halve, pack, render, unpack

BOX_AUGMENTS = Registry("augmentation", "augment.name")

PROBABILITIES = ("mosaic_prob", "mixup_prob", "hsv_prob", "flip_prob", "affine_prob")
_KEY = "augment"

# Columns of the uniform numbers drawn per image and call (a fixed count, so the generator advances the same
# whatever the probabilities are).
_MOSAIC, _CENTRE_X, _CENTRE_Y, _OTHERS = 0, 1, 2, slice(3, 6)
_AFFINE, _ANGLE, _SCALE, _SHEAR_X, _SHEAR_Y, _SHIFT_X, _SHIFT_Y = 6, 7, 8, 9, 10, 11, 12
_MIXUP, _PARTNER, _ZOOM, _PARTNER_FLIP, _OFFSET_X, _OFFSET_Y = 13, 14, 15, 16, 17, 18
_HSV, _HUE, _SAT, _VAL = 19, 20, 21, 22
_FLIP = 23
_DRAWS = 24

# Hue rotates about the grey axis (1, 1, 1)/√3: the projection onto it, the rest, and the cross-product matrix.
_GREY = torch.full((3, 3), 1.0 / 3.0, dtype=torch.float64)
_CHROMA = torch.eye(3, dtype=torch.float64) - _GREY
_CROSS = torch.tensor(
    [[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]], dtype=torch.float64
) / math.sqrt(3.0)


@dataclass(frozen=True)
class BoxAugmentParams:
    """Strengths of `det_yolox` / `det_basic` (the probabilities live on the augmentation: they are steerable)."""

    degrees: float  # rotation up to ± this
    translate: float  # shift up to ± this fraction of the output width / height
    scale_min: float  # zoom of the canvas (a mosaic canvas is 2W×2H: 0.5 shows all of it)
    scale_max: float
    shear: float  # shear up to ± this many degrees, along x and along y
    mixup_scale_min: float  # zoom of the mixup partner
    mixup_scale_max: float
    hsv_h: float  # hue shift up to ± this fraction of a turn
    hsv_s: float  # saturation gain in 1 ± this
    hsv_v: float  # value gain in 1 ± this
    min_box_size: float  # boxes with a side of this many pixels or less are dropped
    max_aspect: float  # ... or an aspect ratio (long side / short side) of this or more
    min_area_ratio: float  # ... or keeping less than this share of their area (after the zoom)


class BoxIdentity:
    """No augmentation: images and targets pass through unchanged; nothing to steer."""

    def boxes(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return images, targets

    def probabilities(self) -> dict[str, float]:
        return {}

    def set_probability(self, name: str, value: float) -> None:
        raise KeyError(f"augmentation 'none' has no probability '{name}' (nothing to steer)")


class YoloxBoxAugment:
    """Mosaic, random affine, mixup, HSV and flip on a batch, boxes following (see the module docstring)."""

    def __init__(self, params: BoxAugmentParams, probabilities: dict[str, float]) -> None:
        self.params = params
        self._probabilities = {name: float(probabilities[name]) for name in PROBABILITIES}

    def probabilities(self) -> dict[str, float]:
        """The current probability of each part, by its config key (mosaic_prob, mixup_prob, ...)."""
        return dict(self._probabilities)

    def set_probability(self, name: str, value: float) -> None:
        """Change one probability from the next batch on (`labconsole set RUN augment.mosaic_prob=0.3`)."""
        if name not in self._probabilities:
            raise KeyError(
                f"no augmentation probability '{name}'; steerable: {', '.join(self._probabilities)}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"augment.{name} is a probability, must be a number in [0, 1], got {value!r}")
        self._probabilities[name] = float(value)

    def boxes(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images B×3×H×W in [0, 1] and targets B×M×5 -> augmented images (same shape) and targets B×M'×5."""
        b, _, h, w = images.shape
        u = torch.rand(b, _DRAWS, generator=generator, device=generator.device).to(images.device)
        prob = self._probabilities
        mosaic = u[:, _MOSAIC] < prob["mosaic_prob"]
        affine = u[:, _AFFINE] < prob["affine_prob"]
        mixup = u[:, _MIXUP] < prob["mixup_prob"]
        flip = u[:, _FLIP] < prob["flip_prob"]
        hsv = u[:, _HSV] < prob["hsv_prob"]
        moved = mosaic | affine | mixup | flip
        if not bool(moved.any() or hsv.any()):
            return images, targets
        layout = _Layout.draw(u, mosaic, affine, mixup, flip, self.params, (h, w))
        if bool(moved.any()):
            pixels, scale = layout.pixels(images), 1.0 / 255.0  # bytes, scaled with the colour matrix
        else:
            pixels, scale = images.reshape(b, 3, h * w), 1.0
        if bool(hsv.any()):
            out = _hsv(pixels, u, hsv, self.params, scale)
        else:
            # Divided as the loader's div_(255) did: pixels that only moved come back bit for bit.
            out = pixels.div_(255.0) if scale != 1.0 else pixels
        out = out.view(b, 3, h, w)
        if not bool(moved.any()):
            return out, targets
        return out, layout.targets(targets, self.params)


@dataclass
class _Layout:
    """Where each output image reads from: its canvas (mosaic or not), warp and flip, and its mixup partner."""

    size: tuple[int, int]
    mosaic: torch.Tensor  # (B,) bool
    centre: torch.Tensor  # (B, 2) mosaic centre on the canvas; (W, H) without mosaic
    sources: torch.Tensor  # (B, 4) batch index per quadrant
    warp: torch.Tensor  # (B, 3, 3) canvas -> output, flip included
    zoom: torch.Tensor  # (B,) the warp's scale (for the area filter)
    resized: torch.Tensor  # (B,) whether boxes changed size or were cut (the filter applies)
    mixed: torch.Tensor  # (K,) indices of the images given a mixup partner
    partner: torch.Tensor  # (K,) the partner's batch index
    partner_warp: torch.Tensor  # (K, 3, 3) partner image -> output, flip included
    partner_zoom: torch.Tensor  # (K,)

    @staticmethod
    def draw(
        u: torch.Tensor,
        mosaic: torch.Tensor,
        affine: torch.Tensor,
        mixup: torch.Tensor,
        flip: torch.Tensor,
        pp: BoxAugmentParams,
        size: tuple[int, int],
    ) -> _Layout:
        h, w = size
        b = u.shape[0]
        u = u.double()  # matrices in float64: identity maps stay exact, inverses accurate
        own = torch.arange(b, device=u.device)
        others = (own.unsqueeze(1) + 1 + (u[:, _OTHERS] * max(b - 1, 0)).long()) % b  # never the image itself
        sources = torch.cat([own.unsqueeze(1), torch.where(mosaic.unsqueeze(1), others, NOTHING)], 1)
        m = mosaic.double()
        # YOLOX: the centre anywhere in the middle half of the 2W×2H canvas, on whole pixels.
        centre_x = torch.where(mosaic, torch.round(w * (0.5 + u[:, _CENTRE_X])), torch.full_like(m, w))
        centre_y = torch.where(mosaic, torch.round(h * (0.5 + u[:, _CENTRE_Y])), torch.full_like(m, h))
        canvas = torch.stack([w * (1 + m), h * (1 + m)], 1)
        a = affine.double()
        zoom = torch.where(
            affine, pp.scale_min + u[:, _SCALE] * (pp.scale_max - pp.scale_min), torch.ones_like(a)
        )
        warp = random_affine(
            # Centres on whole pixels: without the warp, a mosaic is cropped back exactly, a plain image kept.
            (torch.floor(canvas[:, 0] / 2), torch.floor(canvas[:, 1] / 2)),
            (
                w // 2 + (2 * u[:, _SHIFT_X] - 1) * pp.translate * a * w,
                h // 2 + (2 * u[:, _SHIFT_Y] - 1) * pp.translate * a * h,
            ),
            (2 * u[:, _ANGLE] - 1) * pp.degrees * a,
            zoom,
            (2 * u[:, _SHEAR_X] - 1) * pp.shear * a,
            (2 * u[:, _SHEAR_Y] - 1) * pp.shear * a,
        )
        mirror = _mirror(flip, w)
        mixed = torch.nonzero(mixup).view(-1)
        partner = (mixed + 1 + (u[mixed, _PARTNER] * max(b - 1, 0)).long()) % b
        partner_zoom = pp.mixup_scale_min + u[mixed, _ZOOM] * (pp.mixup_scale_max - pp.mixup_scale_min)
        # YOLOX: zoom the partner, flip it half the time, and cut a W×H window at a random offset.
        one = torch.ones_like(partner_zoom)
        turned = torch.where(u[mixed, _PARTNER_FLIP] < 0.5, -1.0, 1.0)
        offset_x = torch.round(u[mixed, _OFFSET_X] * (partner_zoom * w - w).clamp(min=0))
        offset_y = torch.round(u[mixed, _OFFSET_Y] * (partner_zoom * h - h).clamp(min=0))
        place = translation(torch.where(turned < 0, partner_zoom * w, 0.0) - offset_x, -offset_y) @ linear(
            turned * partner_zoom, 0 * one, 0 * one, partner_zoom
        )
        return _Layout(
            size=size,
            mosaic=mosaic,
            centre=torch.stack([centre_x, centre_y], 1),
            sources=sources,
            warp=mirror @ warp,
            zoom=zoom,
            resized=mosaic | affine,
            mixed=mixed,
            partner=partner,
            partner_warp=mirror[mixed] @ place,
            partner_zoom=partner_zoom,
        )

    def pixels(self, images: torch.Tensor) -> torch.Tensor:
        """The batch's images warped, mixup partners blended in half and half: B×3×(H·W) float in 0..255."""
        h, w = self.size
        packed = pack(images)
        out = render(packed, self.size, torch.linalg.inv(self.warp), self.centre, self.sources)
        k = self.mixed.shape[0]
        if k:
            alone = torch.full((k, 3), NOTHING, dtype=torch.int64, device=self.partner.device)
            single = torch.tensor([[w, h]], dtype=torch.float64, device=self.centre.device).expand(k, 2)
            sources = torch.cat([self.partner.unsqueeze(1), alone], 1)
            theirs = render(packed, self.size, torch.linalg.inv(self.partner_warp), single, sources)
            if k == out.shape[0]:
                out = halve(out, theirs)
            else:
                out[self.mixed] = halve(out[self.mixed], theirs)
        return unpack(out, h, w)

    def targets(self, targets: torch.Tensor, pp: BoxAugmentParams) -> torch.Tensor:
        """Targets B×M×5 of the sources through the same maps, clipped and filtered; B×M'×5 out."""
        h, w = self.size
        b, m, _ = targets.shape
        t = targets.double()
        quadrant = torch.arange(4, device=t.device)
        # Each quadrant's image has its top-left corner at centre - (W, H) for the top-left one, etc.
        corner_x = self.centre[:, :1] - w * (1 - quadrant % 2)  # (B, 4)
        corner_y = self.centre[:, 1:] - h * (1 - quadrant // 2)
        placed = t[self.sources.clamp(min=0)]  # (B, 4, M, 5); quadrants without an image are not in use
        in_use = (quadrant == 0) | self.mosaic.unsqueeze(1)  # (B, 4)
        shift = torch.stack([corner_x, corner_y, corner_x, corner_y], -1).unsqueeze(2)  # (B, 4, 1, 4)
        on_canvas = placed[..., 1:] + shift
        moved = clip_boxes(transform_boxes(on_canvas, self.warp.unsqueeze(1)), w, h)
        kept = (placed[..., 0] >= 0) & in_use.unsqueeze(2)
        cut = ~box_candidates(
            on_canvas * self.zoom.view(b, 1, 1, 1), moved, pp.min_box_size, pp.max_aspect, pp.min_area_ratio
        )
        kept &= ~(cut & self.resized.view(b, 1, 1))
        classes, boxes, keep = (
            [placed[..., 0].reshape(b, -1)],
            [moved.reshape(b, -1, 4)],
            [kept.reshape(b, -1)],
        )
        if self.mixed.numel():
            theirs = t[self.partner]  # (K, M, 5)
            own = clip_boxes(theirs[..., 1:], w, h)
            landed = clip_boxes(transform_boxes(own, self.partner_warp), w, h)
            keep_theirs = (theirs[..., 0] >= 0) & box_candidates(
                own * self.partner_zoom.view(-1, 1, 1),
                landed,
                pp.min_box_size,
                pp.max_aspect,
                pp.min_area_ratio,
            )
            extra_classes = torch.full((b, m), -1.0, dtype=t.dtype, device=t.device)
            extra_boxes = torch.zeros((b, m, 4), dtype=t.dtype, device=t.device)
            extra_keep = torch.zeros((b, m), dtype=torch.bool, device=t.device)
            extra_classes[self.mixed], extra_boxes[self.mixed], extra_keep[self.mixed] = (
                theirs[..., 0],
                landed,
                keep_theirs,
            )
            classes.append(extra_classes)
            boxes.append(extra_boxes)
            keep.append(extra_keep)
        return pack_targets(torch.cat(classes, 1), torch.cat(boxes, 1), torch.cat(keep, 1)).to(targets.dtype)


def _mirror(flip: torch.Tensor, width: int) -> torch.Tensor:
    """(B,) bool -> (B, 3, 3): x -> W - x where set, the identity elsewhere."""
    sign = torch.where(flip, -1.0, 1.0).double()
    zero, one = torch.zeros_like(sign), torch.ones_like(sign)
    return translation(torch.where(flip, float(width), 0.0).double(), zero) @ linear(sign, zero, zero, one)


def _hsv(
    pixels: torch.Tensor, u: torch.Tensor, on: torch.Tensor, pp: BoxAugmentParams, scale: float
) -> torch.Tensor:
    """YOLOX's random HSV gains as one 3×3 colour matrix per image (times `scale`), then clipped to [0, 1]: hue
    rotated about the grey axis by up to ± hsv_h of a turn, chroma scaled by the saturation gain, everything
    by the value gain. (YOLOX multiplies the OpenCV hue by 1 ± hsv_h, a shift of at most that size, and
    scales HSV's S and V through lookup tables; a linear map keeps it one batched matmul.)

    Args:
        pixels: B×3×N.
    """
    device = pixels.device
    sym = (2 * u[:, _HUE : _VAL + 1] - 1).double()
    angle = sym[:, 0] * (2 * math.pi * pp.hsv_h)
    sat = (1 + sym[:, 1] * pp.hsv_s).view(-1, 1, 1)
    val = (1 + sym[:, 2] * pp.hsv_v).view(-1, 1, 1)
    chroma = torch.cos(angle).view(-1, 1, 1) * _CHROMA.to(device) + torch.sin(angle).view(
        -1, 1, 1
    ) * _CROSS.to(device)
    matrix = torch.where(
        on.view(-1, 1, 1), val * (_GREY.to(device) + sat * chroma), torch.eye(3, device=device)
    )
    return torch.bmm((matrix * scale).to(pixels.dtype), pixels).clamp_(0.0, 1.0)


def _build(probabilities: dict[str, float], **strengths: float) -> YoloxBoxAugment:
    """Checks every value, naming its key, and builds the augmentation."""
    for name, value in probabilities.items():
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{_KEY}.{name}", f"is a probability, must be in [0, 1], got {value}")
    pp = BoxAugmentParams(**strengths)
    for lower, upper in (("scale_min", "scale_max"), ("mixup_scale_min", "mixup_scale_max")):
        if not 0.0 < getattr(pp, lower) <= getattr(pp, upper):
            raise ConfigError(
                f"{_KEY}.{lower}",
                f"need 0 < {lower} <= {upper}, got {getattr(pp, lower)} and {getattr(pp, upper)}",
            )
    ranges: dict[str, tuple[float, float]] = {
        "degrees": (0.0, 180.0),
        "translate": (0.0, 0.5),
        "shear": (0.0, 45.0),
        "hsv_h": (0.0, 0.5),
        "hsv_s": (0.0, 1.0),
        "hsv_v": (0.0, 1.0),
        "min_box_size": (0.0, math.inf),
        "max_aspect": (1.0, math.inf),
        "min_area_ratio": (0.0, 1.0),
    }
    for name, (low, high) in ranges.items():
        value = getattr(pp, name)
        if not low <= value <= high:
            raise ConfigError(f"{_KEY}.{name}", f"must be in [{low}, {high}], got {value}")
    return YoloxBoxAugment(pp, probabilities)


def _split(arguments: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """A factory's arguments -> (probabilities, strengths), all numbers; the no-augmentation tail is the trainer's."""
    numbers: dict[str, float] = {}
    for key, value in arguments.items():
        if key in ("no_aug_steps", "no_aug_epochs"):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{_KEY}.{key}", f"must be a number, got {value!r}")
        numbers[key] = float(value)
    return {k: numbers.pop(k) for k in PROBABILITIES}, numbers


@BOX_AUGMENTS.register("none")
def none(no_aug_steps: int = 0, no_aug_epochs: float = 0.0) -> BoxIdentity:
    """No augmentation: images and boxes pass through unchanged."""
    return BoxIdentity()


@BOX_AUGMENTS.register("det_yolox")
def det_yolox(
    mosaic_prob: float = 1.0,
    mixup_prob: float = 1.0,
    hsv_prob: float = 1.0,
    flip_prob: float = 0.5,
    affine_prob: float = 1.0,
    degrees: float = 10.0,
    translate: float = 0.1,
    scale_min: float = 0.1,
    scale_max: float = 2.0,
    shear: float = 2.0,
    mixup_scale_min: float = 0.5,
    mixup_scale_max: float = 1.5,
    hsv_h: float = 0.015,
    hsv_s: float = 0.7,
    hsv_v: float = 0.4,
    min_box_size: float = 2.0,
    max_aspect: float = 20.0,
    min_area_ratio: float = 0.2,
    no_aug_steps: int = 0,
    no_aug_epochs: float = 0.0,
) -> YoloxBoxAugment:
    """YOLOX's training augmentation: mosaic, random affine, mixup, HSV, flip, boxes following."""
    probabilities, strengths = _split(dict(locals()))
    return _build(probabilities, **strengths)


@BOX_AUGMENTS.register("det_basic")
def det_basic(
    mosaic_prob: float = 0.0,
    mixup_prob: float = 0.0,
    hsv_prob: float = 0.5,
    flip_prob: float = 0.5,
    affine_prob: float = 0.5,
    degrees: float = 0.0,
    translate: float = 0.1,
    scale_min: float = 0.75,
    scale_max: float = 1.25,
    shear: float = 0.0,
    mixup_scale_min: float = 0.5,
    mixup_scale_max: float = 1.5,
    hsv_h: float = 0.015,
    hsv_s: float = 0.7,
    hsv_v: float = 0.4,
    min_box_size: float = 2.0,
    max_aspect: float = 20.0,
    min_area_ratio: float = 0.2,
    no_aug_steps: int = 0,
    no_aug_epochs: float = 0.0,
) -> YoloxBoxAugment:
    """Light detection augmentation for small demos: flip, HSV, a little zoom and shift; no mosaic or mixup."""
    probabilities, strengths = _split(dict(locals()))
    return _build(probabilities, **strengths)
