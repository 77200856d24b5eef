"""Letterboxed detection batches: the boxes land on the pixels of the object they bound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.box_items import PAD_VALUE, BoxItems, letterbox_scale
from engine.data.formats import BoxIndex
from engine.data.path_table import PathTable
from engine.data.sources import FileImages

#: name -> (image (H, W), white rectangle x1, y1, x2, y2 in its pixels)
PICTURES = {"landscape": ((60, 100), (20, 10, 50, 40)), "portrait": ((100, 60), (6, 50, 30, 90))}
CANVAS = (64, 96)  # (H, W): landscape and portrait images both fit by a different side


def write_index(folder: Path, with_empty: bool) -> BoxIndex:
    """Black PNGs (lossless: edges stay sharp) each holding one white rectangle boxed as class 2."""
    paths, boxes = [], []
    for name, ((h, w), (x1, y1, x2, y2)) in PICTURES.items():
        pixels = np.zeros((h, w, 3), np.uint8)
        pixels[y1:y2, x1:x2] = 255
        Image.fromarray(pixels).save(folder / f"{name}.png")
        paths.append(folder / f"{name}.png")
        boxes.append((x1, y1, x2, y2))
    counts = [1, 1]
    if with_empty:
        Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(folder / "empty.png")
        paths.append(folder / "empty.png")
        counts.append(0)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return BoxIndex(
        FileImages(PathTable.of(folder, paths)),
        np.asarray(boxes, np.float32),
        np.full(len(boxes), 2, np.int64),
        offsets,
    )


def white_extent(image: np.ndarray) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 (exclusive) of the pixels brighter than mid-grey in a 3×H×W image."""
    rows, cols = np.nonzero(image.astype(np.int32).min(axis=0) > 180)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def test_boxes_land_on_the_letterboxed_pixels(tmp_path: Path) -> None:
    items = BoxItems(write_index(tmp_path, with_empty=True), CANVAS)
    batch = items.__getitems__(np.array([[0, 0], [1, 0], [2, 0]]))
    assert batch.images.shape == (3, 3, *CANVAS) and batch.images.dtype.is_floating_point is False
    assert batch.targets.shape == (3, 1, 5) and batch.indices.tolist() == [0, 1, 2]
    for row, ((h, w), _) in enumerate(PICTURES.values()):
        scale = letterbox_scale(h, w, CANVAS)
        scaled_h, scaled_w = round(h * scale), round(w * scale)
        image = batch.images[row].numpy()
        assert (image[:, scaled_h:, :] == PAD_VALUE).all() and (image[:, :, scaled_w:] == PAD_VALUE).all()
        assert (image[:, :scaled_h, :scaled_w] != PAD_VALUE).any()  # the image sits at the top-left
        cls, *box = batch.targets[row, 0].tolist()
        assert cls == 2
        # Bilinear resizing blurs each edge over about a pixel: the box and the bright pixels agree to one.
        np.testing.assert_allclose(box, white_extent(image), atol=1.0)
    assert batch.targets[2].tolist() == [[-1, 0, 0, 0, 0]]  # no boxes: one padding row


def test_landscape_fits_by_width_and_portrait_by_height() -> None:
    assert letterbox_scale(60, 100, CANVAS) == 0.96  # 100 columns into 96 (60 rows would allow 1.07)
    assert letterbox_scale(100, 60, CANVAS) == 0.64  # 100 rows into 64


def test_boxes_cut_by_the_canvas_are_clipped_and_slivers_dropped(tmp_path: Path) -> None:
    index = write_index(tmp_path, with_empty=False)
    wide = np.array(
        [[-10, 5, 120, 30], [99.5, 0, 100, 60]], np.float32
    )  # beyond the image; half a pixel wide
    index = BoxIndex(
        index.images, np.concatenate([wide, index.boxes[1:]]), np.array([0, 1, 2]), np.array([0, 2, 3])
    )
    targets = BoxItems(index, CANVAS).__getitems__(np.array([[0, 0]])).targets
    assert targets.shape == (1, 1, 5)  # the sliver is gone
    row_factor = 58 / 60  # 60 rows × 0.96 = 57.6, rounded to 58: each axis keeps its own factor
    np.testing.assert_allclose(targets[0, 0].tolist(), [0, 0, 5 * row_factor, 96, 30 * row_factor], atol=1e-4)
