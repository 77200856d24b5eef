"""Tiny data sets in the published layouts of Cityscapes, GTA5 and Pascal VOC, and what a reader must return.

The expected train ids are written out by hand from the official tables (cityscapesScripts labels.py, the
VOC devkit), not taken from the readers, so a wrong table in a reader shows up as a wrong mask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (16, 32)  # (H, W)

#: Cityscapes label ids written into the fixtures -> their train id in the official table (255: unlabelled).
#: Unmapped ids (0 unlabeled, 1 ego vehicle, 4 static, 9 parking, 14 guard rail, 29 caravan) mix with mapped.
CITYSCAPES_TRAIN_ID = {
    0: 255,
    1: 255,
    4: 255,
    7: 0,
    8: 1,
    9: 255,
    11: 2,
    14: 255,
    17: 5,
    21: 8,
    23: 10,
    24: 11,
    26: 13,
    29: 255,
    31: 16,
    33: 18,
}

CITYSCAPES_CITIES = {
    "train": {"aachen": [(0, 19), (0, 38)], "bochum": [(0, 313)]},
    "val": {"frankfurt": [(0, 294), (1, 7973)]},
    "test": {"berlin": [(0, 19)]},
}

GTA5_SPLITS = {"trainIds": [1, 2, 3], "valIds": [4, 6], "testIds": [5]}  # 1-based image numbers, as split.mat

VOC_SPLITS = {"train": ["2007_000032", "2007_000039"], "val": ["2007_000033", "2007_000042"]}
SBD_ONLY = ["2008_000002"]  # in SegmentationClassAug only
SBD_ALSO_VOC = ["2007_000032"]  # VOC train id also annotated by SBD (VOC's own mask must win)


@dataclass
class Expected:
    """A written fixture: its root, and per split the image paths (relative to root) and the masks a reader
    returns, in index order."""

    root: Path
    images: dict[str, list[str]] = field(default_factory=dict)
    masks: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, split: str, image: Path, mask: np.ndarray) -> None:
        self.images.setdefault(split, []).append(str(image.relative_to(self.root)))
        self.masks.setdefault(split, []).append(mask)


def pattern(values: list[int], seed: int) -> np.ndarray:
    """(H, W) int64 indices into `values`: diagonal stripes shifted by `seed`, so every value appears."""
    rows, cols = np.indices(SIZE)
    return (rows + cols + seed) % len(values)


def write_rgb(path: Path, seed: int) -> None:
    """A random RGB image (PNG or JPEG by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def write_palette_png(path: Path, indices: np.ndarray, palette: list[tuple[int, int, int]]) -> None:
    """A mode-P PNG holding `indices`, with `palette` (256 colours)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(indices.astype(np.uint8), mode="P")
    img.putpalette([channel for colour in palette for channel in colour])
    img.save(path)


def cityscapes_palette() -> list[tuple[int, int, int]]:
    """Cityscapes label-id colours (GTA5's label palette), from the official table; black beyond id 33."""
    from cityscapesscripts.helpers.labels import labels

    colours = {label.id: label.color for label in labels if label.id >= 0}
    return [colours.get(i, (0, 0, 0)) for i in range(256)]


# -- Cityscapes ----------------------------------------------------------------------------------------------
def write_cityscapes(root: Path) -> Expected:
    """leftImg8bit/ + gtFine/ for train (aachen, bochum), val (frankfurt) and test (berlin, void labels only),
    with every gtFine sibling (color, instanceIds, labelTrainIds, polygons) next to the labelIds file."""
    expected = Expected(root)
    raw_ids = np.array(list(CITYSCAPES_TRAIN_ID))
    train_ids = np.array(list(CITYSCAPES_TRAIN_ID.values()), np.uint8)
    seed = 0
    for split, cities in CITYSCAPES_CITIES.items():
        for city, frames in cities.items():
            for seq, frame in frames:
                stem = f"{city}_{seq:06d}_{frame:06d}"
                image = root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png"
                write_rgb(image, seed)
                void = split == "test"  # test labels are not public: only void pixels
                grid = np.zeros(SIZE, np.int64) if void else pattern(list(raw_ids), seed)
                write_gtfine(root / "gtFine" / split / city, stem, raw_ids[grid])
                expected.add(split, image, train_ids[grid])
                seed += 1
    return expected


def write_gtfine(folder: Path, stem: str, ids: np.ndarray) -> None:
    """The five gtFine files of one image; `_gtFine_labelIds.png` (mode L, label ids) is the one to read."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(ids.astype(np.uint8), mode="L").save(folder / f"{stem}_gtFine_labelIds.png")
    train_ids = np.array([CITYSCAPES_TRAIN_ID.get(int(i), 255) for i in range(256)], np.uint8)[ids]
    Image.fromarray(train_ids, mode="L").save(folder / f"{stem}_gtFine_labelTrainIds.png")
    colours = np.array(cityscapes_palette(), np.uint8)[ids]
    rgba = np.concatenate([colours, np.full((*SIZE, 1), 255, np.uint8)], axis=2)
    Image.fromarray(rgba, mode="RGBA").save(folder / f"{stem}_gtFine_color.png")
    instances = np.where(ids >= 24, ids * 1000 + 1, ids).astype(np.uint16)  # instance classes: id*1000 + n
    Image.fromarray(instances).save(folder / f"{stem}_gtFine_instanceIds.png")
    polygons = {
        "imgHeight": SIZE[0],
        "imgWidth": SIZE[1],
        "objects": [{"label": "road", "polygon": [[0, 0], [SIZE[1] - 1, 0], [0, SIZE[0] - 1]]}],
    }
    (folder / f"{stem}_gtFine_polygons.json").write_text(json.dumps(polygons))


# -- GTA5 ----------------------------------------------------------------------------------------------------
def write_gta5(root: Path, split_mat: bool = True) -> Expected:
    """images/00001..00006.png + labels/ palette PNGs of label ids, DAFormer's converted label of image 1
    (which must be ignored), and split.mat. Split "train" expects every image."""
    expected = Expected(root)
    raw_ids = list(CITYSCAPES_TRAIN_ID)
    train_ids = np.array([CITYSCAPES_TRAIN_ID[i] for i in raw_ids], np.uint8)
    palette = cityscapes_palette()
    numbers = sorted(n for ids in GTA5_SPLITS.values() for n in ids)
    for number in numbers:
        name = f"{number:05d}.png"
        grid = pattern(raw_ids, number)
        write_rgb(root / "images" / name, number)
        write_palette_png(root / "labels" / name, np.array(raw_ids)[grid], palette)
        expected.add("train", root / "images" / name, train_ids[grid])
    converted = Image.fromarray(train_ids[pattern(raw_ids, 1)], mode="L")
    converted.save(root / "labels" / "00001_labelTrainIds.png")
    if split_mat:
        from scipy.io import savemat

        savemat(
            str(root / "split.mat"),
            {
                key: np.array(ids, np.float64).reshape(-1, 1)  # MATLAB doubles
                for key, ids in GTA5_SPLITS.items()
            },
        )
        for split, key in (("val", "valIds"), ("test", "testIds")):
            for number in GTA5_SPLITS[key]:
                position = numbers.index(number)
                expected.images.setdefault(split, []).append(expected.images["train"][position])
                expected.masks.setdefault(split, []).append(expected.masks["train"][position])
    return expected


# -- Pascal VOC ----------------------------------------------------------------------------------------------
def voc_colormap(count: int = 256) -> list[tuple[int, int, int]]:
    """The VOC devkit's labelcolormap (bit-interleaved class index)."""
    colours = []
    for i in range(count):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colours.append((r, g, b))
    return colours


def voc_mask(seed: int, border: bool) -> np.ndarray:
    """(H, W) uint8 class indices 0..20, with a 255 border frame (VOC) or none (SBD)."""
    mask = pattern(list(range(21)), seed).astype(np.uint8)
    if border:
        mask[0, :] = mask[:, -1] = 255
    return mask


def write_voc(root: Path, aug: bool = True) -> Expected:
    """root/VOCdevkit/VOC2012 with JPEGImages, SegmentationClass (palette, 255 borders), SegmentationObject
    and ImageSets/Segmentation/{train,val,trainval}.txt; with `aug`, mmseg's SegmentationClassAug (mode L,
    no border, as its voc_aug.py writes) and trainaug.txt / aug.txt."""
    expected = Expected(root)
    voc = root / "VOCdevkit" / "VOC2012"
    splits_dir = voc / "ImageSets" / "Segmentation"
    splits_dir.mkdir(parents=True)
    palette = voc_colormap()
    all_ids = sorted(i for ids in VOC_SPLITS.values() for i in ids)
    voc_masks = {}
    for seed, image_id in enumerate(all_ids + SBD_ONLY):
        write_rgb(voc / "JPEGImages" / f"{image_id}.jpg", seed)
        if image_id in all_ids:
            voc_masks[image_id] = voc_mask(seed, border=True)
            write_palette_png(voc / "SegmentationClass" / f"{image_id}.png", voc_masks[image_id], palette)
            instances = (voc_masks[image_id] > 0) * 1
            write_palette_png(voc / "SegmentationObject" / f"{image_id}.png", instances, palette)
    for split, ids in {**VOC_SPLITS, "trainval": all_ids}.items():
        (splits_dir / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
        for image_id in ids:
            expected.add(split, voc / "JPEGImages" / f"{image_id}.jpg", voc_masks[image_id])
    if aug:
        sbd_ids = SBD_ONLY + SBD_ALSO_VOC
        sbd_masks = {image_id: voc_mask(100 + n, border=False) for n, image_id in enumerate(sbd_ids)}
        (voc / "SegmentationClassAug").mkdir()
        for image_id, mask in sbd_masks.items():
            Image.fromarray(mask, mode="L").save(voc / "SegmentationClassAug" / f"{image_id}.png")
        trainaug = SBD_ONLY + VOC_SPLITS["train"]  # (VOC train | SBD) - VOC val, in set order
        (splits_dir / "trainaug.txt").write_text("".join(f"{i}\n" for i in trainaug))
        (splits_dir / "aug.txt").write_text("".join(f"{i}\n" for i in SBD_ONLY))
        for image_id in trainaug:
            mask = voc_masks[image_id] if image_id in voc_masks else sbd_masks[image_id]  # VOC's own wins
            expected.add("trainaug", voc / "JPEGImages" / f"{image_id}.jpg", mask)
    return expected


# -- segmentation folders (the generic layout the published ones must not claim) -----------------------------
def write_seg_folders(root: Path, splits: tuple[str, ...] = ("train", "val")) -> Path:
    """<split>/images/*.png + <split>/masks/*.png of class indices 0..2."""
    for seed, split in enumerate(splits):
        write_rgb(root / split / "images" / "a.png", seed)
        (root / split / "masks").mkdir(parents=True)
        mask = Image.fromarray(pattern([0, 1, 2], seed).astype(np.uint8), mode="L")
        mask.save(root / split / "masks" / "a.png")
    return root
