"""The embedded synthetic detection set: street scenes with boxed cars, people and signs, in the COCO layout.

Layout (what `engine.data.formats.coco` reads):
    root/annotations/instances_<split>.json   COCO instances: images, annotations (bbox x, y, w, h), categories
    root/<split>/<split>_NNNNN.jpg            RGB, 160 × 256 by default (landscape, not square)
    root/synth_det.json                       parameters and counts; written last (marks a complete build)
Splits: `train` and `val` in the day style, `dusk` in a shifted one (darker, warmer, flatter, other car
paints): the shifted test set.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.synth_det_scene import CLASSES, DAY, DUSK, render_det_scene
from engine.data.synth_manifest import build_once, check_sizes, stored_summary

MANIFEST = "synth_det.json"
SPLITS = ("train", "val", "dusk")
_SPLIT_CODES = {"train": 1, "val": 2, "dusk": 3}  # RNG namespaces: a split never depends on another's size
_STYLES = {"train": DAY, "val": DAY, "dusk": DUSK}
_SUPERCATEGORY = {"car": "vehicle", "person": "person", "sign": "outdoor"}


@dataclass(frozen=True)
class SynthDetParams:
    """Everything that determines the files; stored in synth_det.json."""

    seed: int = 0
    train_images: int = 600
    val_images: int = 150
    test_images: int = 150
    image_size: tuple[int, int] = (160, 256)  # (H, W)
    version: int = 2  # bump when the renderer changes, so old folders are rebuilt


def make_synth_det(
    root: Path,
    seed: int = 0,
    train_images: int = 600,
    val_images: int = 150,
    test_images: int = 150,
    image_size: tuple[int, int] = (160, 256),
) -> dict:
    """Write the data set under `root` (reusing a complete one with the same parameters); return a summary.

    The summary (also root/synth_det.json) holds the parameters, image and box counts per split, bytes
    written and seconds taken; `reused` tells whether an existing build was kept.
    """
    check_sizes(
        "synthetic detection set",
        {
            "train_images": train_images,
            "val_images": val_images,
            "test_images": test_images,
            "image height": image_size[0],
            "image width": image_size[1],
        },
    )
    params = SynthDetParams(
        seed, train_images, val_images, test_images, (int(image_size[0]), int(image_size[1]))
    )
    root = Path(root)
    sizes = {"train": train_images, "val": val_images, "dusk": test_images}

    def write() -> dict:
        boxes, nbytes = {}, 0
        for split in SPLITS:
            count, written = _write_split(root, params, split, sizes[split])
            boxes[split], nbytes = count, nbytes + written
        return {"classes": list(CLASSES), "counts": sizes, "boxes": boxes, "bytes": nbytes}

    return build_once(root, MANIFEST, params, _clear, write)


def render_item(params: SynthDetParams, split: str, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image, boxes and labels of one item: a pure function of (params, split, index)."""
    rng = np.random.default_rng([params.seed, _SPLIT_CODES[split], index])
    return render_det_scene(rng, params.image_size, _STYLES[split])


def _write_split(root: Path, params: SynthDetParams, split: str, count: int) -> tuple[int, int]:
    """Render a split's images and write its instances file; returns (boxes, bytes written)."""
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    height, width = params.image_size
    images: list[dict] = []
    annotations: list[dict] = []
    nbytes = 0
    for index in range(count):
        pixels, boxes, labels = render_item(params, split, index)
        name = f"{split}_{index:05d}.jpg"
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
        (folder / name).write_bytes(buffer.getvalue())
        nbytes += buffer.tell()
        image_id = index + 1
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        for (x1, y1, x2, y2), label in zip(boxes.tolist(), labels.tolist()):
            w, h = x2 - x1, y2 - y1
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": label + 1,  # COCO ids start at 1
                    "bbox": [x1, y1, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    categories = [
        {"id": i + 1, "name": name, "supercategory": _SUPERCATEGORY[name]} for i, name in enumerate(CLASSES)
    ]
    instances = {
        "info": {
            "description": f"labconsole synthetic street scenes, split {split}",
            "version": str(params.version),
        },
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    path = root / "annotations" / f"instances_{split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(instances, separators=(",", ":"))
    path.write_text(text)
    return len(annotations), nbytes + len(text)


def is_complete(root: Path, seed: int = 0) -> bool:
    """Whether `root` holds a finished build of the default size from this generator version and seed."""
    return stored_summary(Path(root), MANIFEST, SynthDetParams(seed=seed)) is not None


def _clear(root: Path) -> None:
    """Remove a stale manifest and the files of a previous (partial or different) build; nothing else."""
    (root / MANIFEST).unlink(missing_ok=True)
    for split in SPLITS:
        (root / "annotations" / f"instances_{split}.json").unlink(missing_ok=True)
        folder = root / split
        for path in folder.glob(f"{split}_*.jpg") if folder.is_dir() else ():
            path.unlink()
