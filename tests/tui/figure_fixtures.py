"""Realistic evaluation figures for console tests, drawn with Pillow in the engine's `image` event contract.

`write_figure_run` makes a run folder whose events.jsonl names PNGs under figures/step_XXXXXX/: VPR retrieval
strips (query, then its top-5 framed green when correct and red when wrong), segmentation overlays
(image | ground truth | prediction blended over the image), a confusion-matrix heat map and a most-confused
pairs chart. Everything is seeded, so screenshots are stable.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw

from engine.core.protocol import EventWriter

GREEN, RED = (40, 200, 80), (220, 50, 50)
SEG_PALETTE = {  # Cityscapes colours
    "road": (128, 64, 128),
    "building": (70, 70, 70),
    "vegetation": (107, 142, 35),
    "car": (0, 0, 142),
    "person": (220, 20, 60),
    "sky": (70, 130, 180),
}
CLASSES = tuple(SEG_PALETTE)


def atomic_png(image: Image.Image, path: Path) -> None:
    """Write like the engine does: a temporary file, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    image.convert("RGB").save(tmp, format="PNG")
    os.replace(tmp, path)


def place(seed: int, size: tuple[int, int] = (150, 112)) -> Image.Image:
    """A synthetic street view: sky, a row of buildings and a road, all drawn from `seed`."""
    rng = random.Random(seed)
    w, h = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    sky = (rng.randint(90, 160), rng.randint(140, 200), rng.randint(200, 255))
    for y in range(h // 2):
        shade = 1 - y / h
        draw.line([(0, y), (w, y)], fill=tuple(int(c * shade + 40 * (1 - shade)) for c in sky))
    x = 0
    while x < w:
        bw, bh = rng.randint(18, 40), rng.randint(h // 4, h // 2 + 10)
        colour = (rng.randint(90, 200), rng.randint(70, 170), rng.randint(60, 150))
        draw.rectangle([x, h * 3 // 4 - bh, x + bw, h * 3 // 4], fill=colour)
        for wy in range(h * 3 // 4 - bh + 6, h * 3 // 4 - 6, 10):  # windows
            for wx in range(x + 4, x + bw - 6, 9):
                draw.rectangle([wx, wy, wx + 4, wy + 5], fill=(230, 220, 150))
        x += bw + rng.randint(0, 6)
    draw.rectangle([0, h * 3 // 4, w, h], fill=(90, 90, 95))
    draw.line([(w // 2, h * 3 // 4 + 4), (w // 2, h)], fill=(240, 240, 240), width=3)
    return image


def retrievals(step: int, queries: int = 3, k: int = 5) -> Image.Image:
    """Rows of query then top-k database images, green-framed when correct, red when wrong."""
    thumb, gap, frame = (150, 112), 10, 6
    width = (k + 1) * thumb[0] + (k + 2) * gap + gap  # an extra gap between the query and its results
    height = queries * (thumb[1] + gap) + gap
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    rng = random.Random(step)
    for q in range(queries):
        y = gap + q * (thumb[1] + gap)
        sheet.paste(place(100 + q), (gap, y))
        draw.rectangle([gap - 3, y - 3, gap + thumb[0] + 2, y + thumb[1] + 2], outline=(40, 40, 40), width=3)
        correct_up_to = min(k, q + step // 500)  # later evaluations get more right
        for r in range(k):
            x = 3 * gap + (r + 1) * thumb[0] + r * gap
            correct = r < correct_up_to and rng.random() > 0.2
            sheet.paste(place(100 + q if correct else 500 + 7 * q + r), (x, y))
            draw.rectangle(
                [x, y, x + thumb[0] - 1, y + thumb[1] - 1], outline=GREEN if correct else RED, width=frame
            )
    return sheet


def seg_scene(seed: int, size: tuple[int, int] = (300, 200)) -> tuple[Image.Image, list[list[str]]]:
    """A street image and its per-pixel class names (coarse blocks of 10×10 px)."""
    rng = random.Random(seed)
    w, h = size
    labels = [["sky"] * (w // 10) for _ in range(h // 10)]
    for by in range(h // 10):
        for bx in range(w // 10):
            if by >= h // 10 * 2 // 3:
                labels[by][bx] = "road"
            elif by >= h // 10 // 4 and (bx // 4) % 3 != 2:
                labels[by][bx] = "building"
            elif by >= h // 10 // 3:
                labels[by][bx] = "vegetation"
    cx = rng.randint(2, w // 10 - 8)
    for by in range(h // 10 * 2 // 3 - 2, h // 10 * 2 // 3 + 2):
        for bx in range(cx, cx + 6):
            labels[by][bx] = "car"
    px = rng.randint(2, w // 10 - 3)
    for by in range(h // 10 // 2, h // 10 * 2 // 3 + 1):
        labels[by][px] = "person"
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    tones = {
        "sky": (150, 190, 230),
        "building": (120, 105, 95),
        "vegetation": (60, 110, 40),
        "road": (85, 85, 90),
        "car": (30, 40, 90),
        "person": (160, 110, 90),
    }
    for by, row in enumerate(labels):
        for bx, name in enumerate(row):
            jitter = rng.randint(-12, 12)
            draw.rectangle(
                [bx * 10, by * 10, bx * 10 + 9, by * 10 + 9],
                fill=tuple(max(0, min(255, c + jitter)) for c in tones[name]),
            )
    return image, labels


def colourised(labels: list[list[str]], image: Image.Image, alpha: float = 0.55) -> Image.Image:
    """Class colours blended over `image`."""
    mask = Image.new("RGB", image.size)
    draw = ImageDraw.Draw(mask)
    for by, row in enumerate(labels):
        for bx, name in enumerate(row):
            draw.rectangle([bx * 10, by * 10, bx * 10 + 9, by * 10 + 9], fill=SEG_PALETTE[name])
    return Image.blend(image, mask, alpha)


def overlay(step: int, rows: int = 2) -> Image.Image:
    """Rows of image | ground truth | prediction (with mistakes that shrink as training goes on)."""
    size, gap = (300, 200), 8
    sheet = Image.new("RGB", (3 * size[0] + 4 * gap, rows * (size[1] + gap) + gap), (255, 255, 255))
    rng = random.Random(step)
    for r in range(rows):
        image, truth = seg_scene(7 + r, size)
        predicted = [row[:] for row in truth]
        for _ in range(max(5, 120 - step // 20)):
            by, bx = rng.randrange(len(truth)), rng.randrange(len(truth[0]))
            predicted[by][bx] = rng.choice(CLASSES)
        y = gap + r * (size[1] + gap)
        for c, panel in enumerate((image, colourised(truth, image), colourised(predicted, image))):
            sheet.paste(panel, (gap + c * (size[0] + gap), y))
    return sheet


def heat(value: float) -> tuple[int, int, int]:
    """A viridis-like colour for 0..1."""
    stops = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
    x = max(0.0, min(1.0, value)) * (len(stops) - 1)
    i = min(int(x), len(stops) - 2)
    f = x - i
    return tuple(int(a + (b - a) * f) for a, b in zip(stops[i], stops[i + 1]))  # type: ignore[return-value]


def confusion(step: int, classes: Iterable[str] = CLASSES) -> Image.Image:
    """A row-normalised confusion matrix heat map, with class names (rows = true class)."""
    names = list(classes)
    n, cell, margin = len(names), 56, 90
    rng = random.Random(step)
    image = Image.new("RGB", (margin + n * cell + 10, margin + n * cell + 10), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    accuracy = min(0.95, 0.45 + step / 4000)
    for i, true in enumerate(names):
        row = [rng.random() for _ in names]
        row[i] = 0
        total = sum(row)
        for j in range(n):
            value = accuracy if i == j else (1 - accuracy) * row[j] / total
            x, y = margin + j * cell, margin + i * cell
            draw.rectangle([x, y, x + cell - 2, y + cell - 2], fill=heat(value))
            draw.text((x + 14, y + 22), f"{value:.2f}", fill=(255, 255, 255) if value < 0.6 else (0, 0, 0))
        draw.text((6, margin + i * cell + 22), true, fill=(0, 0, 0))
        draw.text((margin + i * cell + 6, margin - 16), true[:7], fill=(0, 0, 0))
    return image


def confused_pairs(step: int) -> tuple[Image.Image, str]:
    """A bar chart of the most confused (true → predicted) pairs, and the caption listing them."""
    pairs = [("cat", "dog"), ("car", "truck"), ("wolf", "husky"), ("bus", "tram")]
    rates = [max(3, 40 - step // 100 - 7 * i) for i in range(len(pairs))]
    image = Image.new("RGB", (520, 40 + 44 * len(pairs)), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for i, ((true, pred), rate) in enumerate(zip(pairs, rates)):
        y = 20 + 44 * i
        draw.text((10, y + 10), f"{true} -> {pred}", fill=(0, 0, 0))
        draw.rectangle([130, y, 130 + rate * 9, y + 30], fill=(230, 120, 40))
        draw.text((140 + rate * 9, y + 10), f"{rate}%", fill=(0, 0, 0))
    return image, ", ".join(f"{t}→{p} {r}%" for (t, p), r in zip(pairs, rates))


def figure_events(run_dir: Path, step: int, events: EventWriter) -> None:
    """Draw every fixture figure of the evaluation at `step` and emit its `image` events."""
    folder = f"figures/step_{step:06d}"
    pairs_image, pairs_caption = confused_pairs(step)
    drawn = [
        ("retrievals", "sim2real", retrievals(step), "3 queries: top-5, green = within 25 m"),
        ("overlay", "val", overlay(step), "image | ground truth | prediction"),
        ("confusion", "val", confusion(step), "rows = true class, normalised per row"),
        ("confused_pairs", "val", pairs_image, pairs_caption),
    ]
    for tag, split, image, caption in drawn:
        relative = f"{folder}/{tag}-{split}.png"
        atomic_png(image, run_dir / relative)
        events.emit("image", step=step, split=split, tag=tag, path=relative, caption=caption)


def write_figure_run(
    runs_dir: Path, name: str = "20251009-061000-figures", steps: Iterable[int] = (500, 1000, 1500)
) -> Path:
    """A run folder with the fixture figures of an evaluation at each of `steps`."""
    run_dir = runs_dir / name
    run_dir.mkdir(parents=True, exist_ok=True)
    with EventWriter(run_dir / "events.jsonl") as events:
        for step in steps:
            events.scalar(step, {"loss/total": 1.0 / step})
            figure_events(run_dir, step, events)
    return run_dir


def add_evaluation(run_dir: Path, step: int) -> None:
    """Append one more evaluation's figures to a run, as a live engine would."""
    with EventWriter(run_dir / "events.jsonl") as events:
        figure_events(run_dir, step, events)
