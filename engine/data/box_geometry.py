"""Box arithmetic for the detection augmentations: 3×3 affine matrices, boxes through them, YOLOX's box filter and
the padded B×M×5 target layout (class, x1, y1, x2, y2; class -1 pads).

Matrices map points as column vectors [x, y, 1] in pixel coordinates (x right, y down), batched as (..., 3, 3).
"""

from __future__ import annotations

import torch

PAD_CLASS = -1.0


def translation(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    """(B,) shifts -> (B, 3, 3) matrices adding (tx, ty)."""
    m = torch.eye(3, dtype=tx.dtype, device=tx.device).repeat(tx.shape[0], 1, 1)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def linear(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """(B,) entries -> (B, 3, 3) matrices [[a, b, 0], [c, d, 0], [0, 0, 1]]."""
    m = torch.eye(3, dtype=a.dtype, device=a.device).repeat(a.shape[0], 1, 1)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = a, b, c, d
    return m


def random_affine(
    canvas_centre: tuple[torch.Tensor, torch.Tensor],
    output_centre: tuple[torch.Tensor, torch.Tensor],
    degrees: torch.Tensor,
    scale: torch.Tensor,
    shear_x: torch.Tensor,
    shear_y: torch.Tensor,
) -> torch.Tensor:
    """YOLOX's warp (T·S·R·C): move the canvas centre to the origin, rotate by `degrees` and scale, shear (degrees
    along x and y), then move the origin to the output centre. All arguments (B,); returns (B, 3, 3)."""
    angle = torch.deg2rad(degrees)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    rotate = linear(cos, sin, -sin, cos)
    one = torch.ones_like(scale)
    shear = linear(one, torch.tan(torch.deg2rad(shear_x)), torch.tan(torch.deg2rad(shear_y)), one)
    to_origin = translation(-canvas_centre[0], -canvas_centre[1])
    return translation(*output_centre) @ shear @ rotate @ to_origin


def transform_boxes(boxes: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Boxes (..., N, 4) x1 y1 x2 y2 through matrices (..., 3, 3): the box enclosing the 4 moved corners."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    xs = torch.stack([x1, x2, x1, x2], -1)  # (..., N, 4) corners
    ys = torch.stack([y1, y1, y2, y2], -1)
    m = matrix.unsqueeze(-3)  # (..., 1, 3, 3): one matrix for the N boxes
    new_x = m[..., 0, 0:1] * xs + m[..., 0, 1:2] * ys + m[..., 0, 2:3]
    new_y = m[..., 1, 0:1] * xs + m[..., 1, 1:2] * ys + m[..., 1, 2:3]
    return torch.stack([new_x.amin(-1), new_y.amin(-1), new_x.amax(-1), new_y.amax(-1)], -1)


def clip_boxes(
    boxes: torch.Tensor, width: torch.Tensor | float, height: torch.Tensor | float
) -> torch.Tensor:
    """Boxes (..., 4) clipped to [0, width] × [0, height] (scalars, or tensors broadcasting against (...,))."""
    w = torch.as_tensor(width, dtype=boxes.dtype, device=boxes.device).unsqueeze(-1)
    h = torch.as_tensor(height, dtype=boxes.dtype, device=boxes.device).unsqueeze(-1)
    x = torch.minimum(boxes[..., 0::2].clamp(min=0), w)
    y = torch.minimum(boxes[..., 1::2].clamp(min=0), h)
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], -1)


def box_candidates(
    before: torch.Tensor,
    after: torch.Tensor,
    min_size: float = 2.0,
    max_aspect: float = 20.0,
    min_area_ratio: float = 0.2,
) -> torch.Tensor:
    """YOLOX's filter of transformed boxes (..., 4): both sides longer than `min_size` pixels, aspect ratio below
    `max_aspect`, and at least `min_area_ratio` of the area the box would have unclipped (`before`, already
    scaled by the warp's zoom)."""
    w1, h1 = before[..., 2] - before[..., 0], before[..., 3] - before[..., 1]
    w2, h2 = after[..., 2] - after[..., 0], after[..., 3] - after[..., 1]
    aspect = torch.maximum(w2 / (h2 + 1e-16), h2 / (w2 + 1e-16))
    return (
        (w2 > min_size)
        & (h2 > min_size)
        & (w2 * h2 / (w1 * h1 + 1e-16) > min_area_ratio)
        & (aspect < max_aspect)
    )


def pack_targets(classes: torch.Tensor, boxes: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Kept rows of each image first, in their order: classes (B, N), boxes (B, N, 4), keep (B, N) bool ->
    B×M×5 float32 with M = max(1, most kept rows of an image); the rest are padding rows (-1, 0, 0, 0, 0)."""
    count = int(keep.sum(1).max()) if keep.numel() else 0
    m = max(1, count)
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :m]
    if order.shape[1] < m:  # no rows at all
        return torch.tensor([[PAD_CLASS, 0, 0, 0, 0]], device=boxes.device).repeat(keep.shape[0], m, 1)
    kept = keep.gather(1, order).unsqueeze(-1)
    rows = torch.cat([classes.unsqueeze(-1), boxes], -1).gather(1, order.unsqueeze(-1).expand(-1, -1, 5))
    pad = torch.tensor([PAD_CLASS, 0, 0, 0, 0], dtype=rows.dtype, device=rows.device)
    return torch.where(kept, rows, pad).float()
