"""One tiny detection set written in the published layouts of COCO, YOLO (Ultralytics) and Pascal VOC.

The boxes are given once, in 0-based pixel corners; each writer encodes them as its format does on disk
(COCO [x, y, w, h] with arbitrary category ids, YOLO normalised centres, VOC 1-based corners), so a reader
that decodes one wrongly returns other boxes than the rest. Each layout also holds what a reader must
leave out: a COCO crowd region, a VOC `difficult` object.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ["car", "person", "sign"]
COCO_IDS = [3, 7, 12]  # arbitrary, sorted like CLASSES: ids map to indices in sorted order

#: Image name -> ((H, W), [(class index, x1, y1, x2, y2), ...]); in name order, as every reader lists them.
IMAGES = {
    "a_street": ((40, 64), [(0, 2, 4, 30, 20), (1, 40, 10, 50, 38)]),
    "b_portrait": ((64, 40), [(2, 5, 5, 15, 15), (0, 0, 30, 40, 64)]),
    "c_empty": ((32, 32), []),
}
SPLIT = "train"


def write_images(folder: Path, suffix: str = ".jpg") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, (size, _)) in enumerate(IMAGES.items()):
        pixels = np.random.default_rng(i).integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{name}{suffix}")


def expected() -> list[tuple[np.ndarray, np.ndarray]]:
    """(boxes (n, 4), labels (n,)) per image, in index order."""
    return [
        (
            np.asarray([b[1:] for b in boxes], np.float32).reshape(-1, 4),
            np.asarray([b[0] for b in boxes], np.int64),
        )
        for _, boxes in IMAGES.values()
    ]


def write_coco(root: Path) -> Path:
    write_images(root / SPLIT)
    images, annotations = [], []
    for image_id, (name, ((h, w), boxes)) in enumerate(IMAGES.items(), start=100):
        images.append({"id": image_id, "file_name": f"{name}.jpg", "width": w, "height": h})
        for cls, x1, y1, x2, y2 in boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": COCO_IDS[cls],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
    crowd = {"id": 99, "image_id": 100, "category_id": COCO_IDS[1], "bbox": [0, 0, 20, 20], "iscrowd": 1}
    categories = [
        {"id": i, "name": n, "supercategory": "x"} for i, n in zip(reversed(COCO_IDS), reversed(CLASSES))
    ]
    (root / "annotations").mkdir(parents=True)
    instances = {"images": images, "annotations": [*annotations, crowd], "categories": categories}
    (root / "annotations" / f"instances_{SPLIT}.json").write_text(json.dumps(instances))
    return root


def write_yolo(root: Path) -> Path:
    write_images(root / "images" / SPLIT)
    labels = root / "labels" / SPLIT
    labels.mkdir(parents=True)
    for name, ((h, w), boxes) in IMAGES.items():
        if not boxes:
            continue  # an image without a label file: background
        lines = [
            f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
            for cls, x1, y1, x2, y2 in boxes
        ]
        (labels / f"{name}.txt").write_text("\n".join(lines) + "\n")
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames:\n"
        + "".join(f"  {i}: {n}\n" for i, n in enumerate(CLASSES))
    )
    return root


def voc_xml(name: str, size: tuple[int, int], objects: list[tuple[str, int, int, int, int, int]]) -> str:
    """An annotation as the VOC devkit writes it; objects are (name, difficult, xmin, ymin, xmax, ymax) 1-based."""
    body = "".join(
        f"<object><name>{n}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>{d}</difficult>"
        f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
        for n, d, x1, y1, x2, y2 in objects
    )
    h, w = size
    return (
        f"<annotation><folder>VOC2012</folder><filename>{name}.jpg</filename>"
        f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size><segmented>0</segmented>{body}</annotation>"
    )


def write_voc(root: Path) -> Path:
    folder = root / "VOCdevkit" / "VOC2012"
    write_images(folder / "JPEGImages")
    (folder / "Annotations").mkdir(parents=True)
    for name, (size, boxes) in IMAGES.items():
        objects = [(CLASSES[c], 0, x1 + 1, y1 + 1, x2, y2) for c, x1, y1, x2, y2 in boxes]
        if boxes:
            objects.append(("person", 1, 3, 3, 9, 9))  # difficult: left out
        (folder / "Annotations" / f"{name}.xml").write_text(voc_xml(name, size, objects))
    (folder / "ImageSets" / "Main").mkdir(parents=True)
    (folder / "ImageSets" / "Main" / f"{SPLIT}.txt").write_text("".join(f"{n}\n" for n in IMAGES))
    return root
