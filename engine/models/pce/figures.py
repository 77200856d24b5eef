"""Routing figures: sample images with each patch tinted by its chosen expert per stage, and the
patch-position × expert heat map (share of each position's patches that go to each expert, per stage)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from engine.figures.canvas import BACKGROUND, INK, MUTED, font, palette, text_width, titled
from engine.figures.figure import Figure
from engine.models.pce.diagnostics import RoutingSample, mutual_information_bits

GAP = 8
HEADER = 18
TILE = 96  # pixels per routing-map image and per heat-map tile
ALPHA = (
    0.7  # expert colour over the image: the expert readable even in a terminal, the image still recognisable
)
GRID_LINE = (255, 255, 255)
SCALE_TEXT = "100% of the position's patches"
DIGITS_FROM = 14  # pixels per patch from which the expert's number is written in the patch
# Tableau's 10 categorical colours: distinct hues of similar weight (experts are not ordered)
_EXPERT_COLOURS = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip


def expert_colours(num_experts: int) -> np.ndarray:
    """num_experts×3 uint8 colours, one per expert (Tableau 10, then evenly spaced hues)."""
    if num_experts <= len(_EXPERT_COLOURS):
        return np.array(_EXPERT_COLOURS[:num_experts], np.uint8).reshape(-1, 3)
    return palette(num_experts + 19)[19:]  # past the Cityscapes colours: the golden-ratio hues


def tint(image: np.ndarray, choices: np.ndarray, colours: np.ndarray, size: int = TILE) -> Image.Image:
    """(h, w, 3) image and a gh×gw map of experts -> the image, `size` pixels high, each patch blended
    with its expert's colour and outlined."""
    rows, cols = choices.shape
    height = size
    width = max(1, round(size * image.shape[1] / image.shape[0]))
    base = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR), np.float32)
    cells = Image.fromarray(colours[choices]).resize((width, height), Image.Resampling.NEAREST)
    out = Image.fromarray(
        ((1 - ALPHA) * base + ALPHA * np.asarray(cells, np.float32)).round().astype(np.uint8)
    )
    draw = ImageDraw.Draw(out)
    for row in range(1, rows):
        y = round(row * height / rows)
        draw.line((0, y, width, y), fill=GRID_LINE)
    for col in range(1, cols):
        x = round(col * width / cols)
        draw.line((x, 0, x, height), fill=GRID_LINE)
    if min(height / rows, width / cols) >= DIGITS_FROM:
        for (row, col), expert in np.ndenumerate(choices):
            label = str(int(expert))
            left = round((col + 0.5) * width / cols) - text_width(label, 11) // 2
            draw.text(
                (left, round((row + 0.5) * height / rows) - 7), label, fill=(255, 255, 255), font=font(11)
            )
    return out


def _legend(colours: np.ndarray, width: int) -> Image.Image:
    """One swatch and name per expert, wrapped to `width`."""
    names = [f"expert {i}" for i in range(len(colours))]
    item = max(text_width(n, 12) for n in names) + 28
    per_row = max(1, (width - GAP) // item)
    rows = -(-len(names) // per_row)
    legend = Image.new("RGB", (width, rows * 20 + GAP), BACKGROUND)
    draw = ImageDraw.Draw(legend)
    for index, name in enumerate(names):
        left, top = GAP + (index % per_row) * item, GAP // 2 + (index // per_row) * 20
        draw.rectangle((left, top + 2, left + 14, top + 14), fill=tuple(int(c) for c in colours[index]))
        draw.text((left + 20, top + 1), name, fill=INK, font=font(12))
    return legend


def render_routing_map(split: str, samples: Sequence[RoutingSample], num_experts: int) -> Figure:
    """One row per sample: the image, then the image tinted by the chosen expert at each stage; a legend."""
    colours = expert_colours(num_experts)
    stages = samples[0].choices.shape[0] if samples else 0
    columns = ["image"] + [f"stage {s}" for s in range(stages)]
    tiles = [[Image.fromarray(s.image).resize(tint(s.image, s.choices[0], colours).size)] for s in samples]
    for row, sample in zip(tiles, samples):
        row += [tint(sample.image, sample.choices[stage], colours) for stage in range(stages)]
    tile_w = max((t.width for row in tiles for t in row), default=TILE)
    width = GAP + len(columns) * (tile_w + GAP)
    body = Image.new("RGB", (width, HEADER + len(tiles) * (TILE + GAP) + GAP), BACKGROUND)
    draw = ImageDraw.Draw(body)
    for col, name in enumerate(columns):
        draw.text((GAP + col * (tile_w + GAP), 2), name, fill=MUTED, font=font(12))
    for row_index, row in enumerate(tiles):
        for col, tile in enumerate(row):
            body.paste(tile, (GAP + col * (tile_w + GAP), HEADER + row_index * (TILE + GAP)))
    if not samples:
        draw.text((GAP, HEADER), "no images recorded", fill=MUTED, font=font(12))
    legend = _legend(colours, width)
    figure = Image.new("RGB", (width, body.height + legend.height), BACKGROUND)
    figure.paste(body, (0, 0))
    figure.paste(legend, (0, body.height))
    caption = f"{len(samples)} images, each patch tinted by the expert it was routed to, {stages} stages"
    return Figure(
        split, "routing_map", titled(figure, f"{split}: routing map (chosen expert per patch)"), caption
    )


def _heat(shares: np.ndarray) -> np.ndarray:
    """Shares in [0, 1] -> RGB from white to dark blue."""
    low, high = np.array([255.0, 255.0, 255.0]), np.array([8.0, 48.0, 107.0])
    return (low + (high - low) * shares[..., None]).round().astype(np.uint8)


def _with_scale(figure: Image.Image, top: int) -> Image.Image:
    """`figure` with a white-to-blue bar below saying what the shades mean."""
    out = Image.new("RGB", (max(figure.width, GAP + 150 + text_width(SCALE_TEXT, 11)), top + 26), BACKGROUND)
    out.paste(figure.crop((0, 0, figure.width, top)), (0, 0))
    bar = Image.fromarray(np.repeat(_heat(np.linspace(0, 1, 120))[None], 10, axis=0))
    draw = ImageDraw.Draw(out)
    draw.text((GAP, top + 4), "0%", fill=MUTED, font=font(11))
    out.paste(bar, (GAP + 22, top + 6))
    draw.rectangle((GAP + 21, top + 5, GAP + 142, top + 16), outline=MUTED)
    draw.text((GAP + 148, top + 4), SCALE_TEXT, fill=MUTED, font=font(11))
    return out


def render_position_heatmap(split: str, position_counts: np.ndarray, grid: tuple[int, int]) -> Figure:
    """Rows = stages, columns = experts; each tile is the gh×gw patch grid, shaded by the share of that
    position's patches routed to that expert (a positional specialist is a dark block)."""
    stages, _, experts = position_counts.shape
    totals = position_counts.sum(axis=2, keepdims=True)
    shares = np.divide(
        position_counts, totals, out=np.zeros_like(position_counts, np.float64), where=totals > 0
    )
    cell = max(4, TILE // max(grid))
    tile_h, tile_w = cell * grid[0], cell * grid[1]
    label_w = text_width("stage 00", 12) + GAP
    width = label_w + experts * (tile_w + GAP) + GAP
    figure = Image.new("RGB", (width, HEADER + stages * (tile_h + GAP) + GAP), BACKGROUND)
    draw = ImageDraw.Draw(figure)
    for expert in range(experts):
        draw.text((label_w + expert * (tile_w + GAP), 2), f"expert {expert}", fill=MUTED, font=font(12))
    for stage in range(stages):
        top = HEADER + stage * (tile_h + GAP)
        draw.text((2, top + tile_h // 2 - 7), f"stage {stage}", fill=INK, font=font(12))
        for expert in range(experts):
            grid_shares = shares[stage, :, expert].reshape(grid)
            tile = Image.fromarray(_heat(grid_shares)).resize((tile_w, tile_h), Image.Resampling.NEAREST)
            left = label_w + expert * (tile_w + GAP)
            figure.paste(tile, (left, top))
            draw.rectangle((left - 1, top - 1, left + tile_w, top + tile_h), outline=MUTED)
    scale_top = HEADER + stages * (tile_h + GAP)
    figure = _with_scale(figure, scale_top)
    information = ", ".join(
        f"s{stage} {mutual_information_bits(position_counts[stage]):.2f}" for stage in range(stages)
    )
    caption = f"{grid[0]}×{grid[1]} patch grid; I(position; expert) in bits: {information}"
    title = f"{split}: share of each patch position routed to each expert"
    return Figure(split, "routing_heatmap", titled(figure, title), caption)
