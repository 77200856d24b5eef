"""Pixels of the detection augmentations: each output image is read from the batch through one inverse map.

An output image looks at a canvas of four W×H quadrants meeting at a centre: a YOLOX mosaic of four batch
images, or, for a plain image, that image top-left and YOLOX's grey 114 in the other three. Its pixel
centres go through the inverse of the warp (affine, flip, mixup placement) to canvas points; the quadrant a
point falls in names the source image, its offset in the quadrant the source pixel (nearest-neighbour, as
torchvision's RandomAffine by default). Points beyond the four quadrants are grey.

Speed, on one CPU core, is what shapes this: bilinear `grid_sample` alone takes about 10 ms for 16 images
of 160×256, and a gather of float pixels about as much (three scattered reads per pixel). So pixels are
packed as RGB bytes in one int32 (one read per pixel), the start of each output's four quadrant images is
in one table per output (the read position is then that start plus a pixel offset, both coded in the sum
of a column term and a row term), and those terms come from small lookup tables indexed by the integer
canvas coordinates. Axis-aligned maps (flips, plain mosaics, mixup partners) compute the terms per column
and per row only. Moved pixels thus pass through bytes: exact for the loader's images (k/255).
"""

from __future__ import annotations

import torch

GREY = 114
NOTHING = -1
"""A `sources` entry for a quadrant without an image (grey)."""


def pack(images: torch.Tensor) -> torch.Tensor:
    """Images B×3×H×W float in [0, 1] -> (B + 1, H·W) int32 of RGB bytes; the last image is all grey."""
    b, c, h, w = images.shape
    packed = torch.empty((b + 1, h * w), dtype=torch.int32, device=images.device)
    packed[b] = GREY | GREY << 8 | GREY << 16
    for channel in range(c):  # a channel at a time: small temporaries
        # x·255.5 truncates to round(x·255) for images that came from bytes (x = k/255), in one pass.
        level = images[:, channel].mul(255.5).to(torch.int32).view(b, h * w)
        if channel:
            level <<= 8 * channel
            packed[:b] |= level
        else:
            packed[:b] = level
        del level
    return packed


def unpack(pixels: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(R, H·W) int32 of RGB bytes -> R×3×(H·W) float in 0..255 (contiguous: the colour matmul wants it so)."""
    out = torch.empty((pixels.shape[0], 3, h * w), dtype=torch.float32, device=pixels.device)
    for channel in range(3):
        level = pixels >> 8 * channel
        level &= 255
        out[:, channel] = level
        del level
    return out


def halve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Byte-wise (x + y) // 2 of packed pixels, the four bytes at once (YOLOX blends mixup images in bytes too)."""
    half = a ^ b
    half >>= 1
    half &= 0x7F7F7F7F
    return half.add_(a & b)


def render(
    packed: torch.Tensor,
    size: tuple[int, int],
    inverse: torch.Tensor,
    centre: torch.Tensor,
    sources: torch.Tensor,
) -> torch.Tensor:
    """Packed images (B + 1, H·W) -> (R, H·W) int32 packed output pixels.

    Args:
        packed: From `pack`.
        size: (H, W).
        inverse: (R, 3, 3) output pixel coordinates -> canvas coordinates.
        centre: (R, 2) where the quadrants meet on the canvas; a plain image is (W, H).
        sources: (R, 4) int64 batch index of the image in the top-left, top-right, bottom-left and bottom-right
            quadrants, or NOTHING.
    """
    h, w = size
    device = packed.device
    r = inverse.shape[0]
    grey_image = packed.shape[0] - 1
    key_bits = max(1, (16 * r - 1).bit_length())
    wide = (h * w) << key_bits >= 2**31 or packed.numel() >= 2**31
    index_type = torch.int64 if wide else torch.int32
    # Start of each (output, row cell, column cell) in the atlas: its quadrant's image, or the grey one.
    images = torch.where(sources < 0, grey_image, sources).to(device)
    cells = torch.full((r, 4, 4), grey_image, dtype=torch.int64, device=device)
    cells[:, 1:3, 1:3] = images.view(r, 2, 2)
    starts = (cells * (h * w)).view(-1).to(index_type)
    column_table, row_table = _tables(r, h, w, key_bits, index_type, device)
    inv = inverse.to(device=device, dtype=torch.float64)
    centre = centre.to(device=device, dtype=torch.float64)
    straight = bool((inv[:, 0, 1] == 0).all() and (inv[:, 1, 0] == 0).all())
    xs = torch.arange(w, device=device, dtype=torch.float64) + 0.5  # pixel centres
    ys = torch.arange(h, device=device, dtype=torch.float64) + 0.5
    # Canvas x + 2W and y + 2H, so that the quadrant cells are 0..3 from the left and from the top.
    x_shift = 2 * w - centre[:, 0] + inv[:, 0, 2]
    y_shift = 2 * h - centre[:, 1] + inv[:, 1, 2]
    if straight:
        fx = (inv[:, 0, 0:1] * xs + x_shift.unsqueeze(1)).view(r, 1, w)
        fy = (inv[:, 1, 1:2] * ys + y_shift.unsqueeze(1)).view(r, h, 1)
    else:
        m, xs32, ys32 = inv.float(), xs.float().view(1, 1, w), ys.float().view(1, h, 1)
        fx = torch.addcmul(
            (m[:, 0, 1].view(r, 1, 1) * ys32).add_(x_shift.float().view(r, 1, 1)),
            m[:, 0, 0].view(r, 1, 1),
            xs32,
        )
        fy = torch.addcmul(
            (m[:, 1, 1].view(r, 1, 1) * ys32).add_(y_shift.float().view(r, 1, 1)),
            m[:, 1, 0].view(r, 1, 1),
            xs32,
        )
    # Temporaries are dropped as soon as used: a smaller peak keeps the allocator from going back to the system.
    column = column_table.index_select(0, fx.clamp_(0, 4 * w - 1).to(index_type).view(-1)).view(fx.shape)
    del fx
    line = fy.clamp_(0, 4 * h - 1).to(index_type)
    del fy
    line += torch.arange(r, device=device, dtype=index_type).view(r, 1, 1) * (4 * h)  # this output's rows
    row = row_table.index_select(0, line.view(-1)).view(line.shape)
    del line
    code = row.add_(column) if row.shape == column.shape else row + column  # pixel << key_bits | cell key
    del row, column
    key = code & ((1 << key_bits) - 1)
    code >>= key_bits
    reads = starts.index_select(0, key.view(-1))
    del key
    reads += code.view(-1)
    del code
    return packed.view(-1).index_select(0, reads).view(r, h * w)


def _tables(
    r: int, h: int, w: int, key_bits: int, index_type: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes by integer canvas coordinate, for columns (4W,) and for the rows of every output (R·4H,): summed,
    a pixel's offset in its image shifted left by `key_bits`, plus its (output, row cell, column cell) key."""
    x = torch.arange(4 * w, device=device)
    column = ((x % w) << key_bits) + x // w
    y = torch.arange(4 * h, device=device)
    row = ((y % h) * w << key_bits) + (y // h) * 4
    rows = row.unsqueeze(0) + torch.arange(r, device=device).view(r, 1) * 16
    return column.to(index_type), rows.reshape(-1).to(index_type)
