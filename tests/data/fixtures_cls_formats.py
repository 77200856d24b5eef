"""Tiny classification data sets in the exact published layouts: CIFAR binary, Tiny-ImageNet, ImageFolder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR100_FINE = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
]
CIFAR100_COARSE = [
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
]
# fine label -> coarse label, as in the official superclass table
FINE_TO_COARSE = [
    4,
    1,
    14,
    8,
    0,
    6,
    7,
    7,
    18,
    3,
    3,
    14,
    9,
    18,
    7,
    11,
    3,
    9,
    7,
    11,
    6,
    11,
    5,
    10,
    7,
    6,
    13,
    15,
    3,
    15,
    0,
    11,
    1,
    10,
    12,
    14,
    16,
    9,
    11,
    5,
    5,
    19,
    8,
    8,
    15,
    13,
    14,
    17,
    18,
    10,
    16,
    4,
    17,
    4,
    2,
    0,
    17,
    4,
    18,
    17,
    10,
    3,
    2,
    12,
    12,
    16,
    12,
    1,
    9,
    19,
    2,
    10,
    0,
    1,
    16,
    12,
    9,
    13,
    15,
    13,
    16,
    19,
    2,
    4,
    6,
    19,
    5,
    5,
    8,
    19,
    18,
    1,
    2,
    15,
    6,
    0,
    17,
    8,
    14,
    13,
]


@dataclass
class CifarSplit:
    """What a split must read back as: labels and (32, 32, 3) images in index order, and each item's file."""

    labels: list[int] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # "<file>.bin record <n>" of each item


@dataclass
class CifarFixture:
    folder: Path  # the extracted folder; its parent is the other accepted root
    classes: list[str]
    splits: dict[str, CifarSplit]


def planes_record(label_bytes: bytes, rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
    """One record: the label bytes, then random R, G and B planes (row-major); and the (32, 32, 3) image."""
    red, green, blue = (rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(3))
    record = label_bytes + red.tobytes() + green.tobytes() + blue.tobytes()
    return record, np.stack([red, green, blue], axis=-1)


def write_records(
    path: Path, labels: list[tuple[int, ...]], rng: np.random.Generator, split: CifarSplit, used: int = -1
) -> None:
    """One .bin file of records with these label bytes; `used` picks the byte that is the class label."""
    records = []
    for number, label in enumerate(labels):
        record, image = planes_record(bytes(label), rng)
        records.append(record)
        split.labels.append(label[used])
        split.images.append(image)
        split.files.append(f"{path} record {number}")
    path.write_bytes(b"".join(records))


def write_cifar10(root: Path, seed: int = 0) -> CifarFixture:
    """cifar-10-batches-bin/: five data batches (2, 1, 3, 1, 2 records), a test batch of 3, the meta file."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    train, test = CifarSplit(), CifarSplit()
    batches = [[3, 7], [0], [9, 1, 3], [5], [8, 2]]
    for i, labels in enumerate(batches, 1):
        write_records(folder / f"data_batch_{i}.bin", [(label,) for label in labels], rng, train)
    write_records(folder / "test_batch.bin", [(4,), (6,), (0,)], rng, test)
    # the real file ends in blank lines; names may carry stray whitespace
    meta = CIFAR10_CLASSES[:3] + [" cat "] + CIFAR10_CLASSES[4:]
    (folder / "batches.meta.txt").write_text("\n".join(meta) + "\n\n")
    (folder / "readme.html").write_text("<html></html>\n")
    return CifarFixture(folder, CIFAR10_CLASSES, {"train": train, "test": test})


def write_cifar100(root: Path, seed: int = 1) -> CifarFixture:
    """cifar-100-binary/ with train.bin (5 records), test.bin (2) and both names files; every record's coarse
    byte differs from its fine byte, so reading the wrong one fails."""
    folder = root / "cifar-100-binary"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    train, test = CifarSplit(), CifarSplit()
    for path, fine_labels, split in (
        (folder / "train.bin", [0, 99, 55, 17, 42], train),
        (folder / "test.bin", [3, 88], test),
    ):
        assert all(FINE_TO_COARSE[f] != f for f in fine_labels)
        write_records(path, [(FINE_TO_COARSE[f], f) for f in fine_labels], rng, split, used=1)
    (folder / "fine_label_names.txt").write_text("\n".join(CIFAR100_FINE) + "\n")
    (folder / "coarse_label_names.txt").write_text("\n".join(CIFAR100_COARSE) + "\n")
    return CifarFixture(folder, CIFAR100_FINE, {"train": train, "test": test})


@dataclass
class TinyFixture:
    folder: Path  # tiny-imagenet-200/; its parent is the other accepted root
    wnids: list[str]  # label order (sorted)
    classes: list[str]
    train: list[tuple[str, int]]  # (path relative to the folder, label) in index order
    val: list[tuple[str, int]]
    grayscale: str  # a train image stored as a single-channel JPEG


TINY_WORDS = {  # real words.txt lines: the 3 classes plus other synsets, as the file covers all of ImageNet
    "n00001740": "entity",
    "n01443537": "goldfish, Carassius auratus",
    "n02084071": "dog, domestic dog, Canis familiaris",
    "n03444034": "go-kart",
    "n04067472": "reel",
    "n09999999": "reel, spool",
}
TINY_WNIDS = ["n04067472", "n01443537", "n03444034"]  # wnids.txt order: not sorted
TINY_TRAIN_COUNTS = {"n04067472": 2, "n01443537": 3, "n03444034": 1}
TINY_VAL = [
    ("val_0.JPEG", "n03444034"),
    ("val_1.JPEG", "n04067472"),
    ("val_2.JPEG", "n01443537"),
    ("val_3.JPEG", "n03444034"),
]


def write_jpeg(path: Path, seed: int, grayscale: bool = False) -> None:
    """A random 64×64 JPEG (mode L when `grayscale`, as some Tiny-ImageNet images are)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (64, 64) if grayscale else (64, 64, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)


def write_tiny_imagenet(root: Path) -> TinyFixture:
    """tiny-imagenet-200/ with 3 classes (2, 3 and 1 train images, one grayscale), 4 val and 2 test images."""
    folder = root / "tiny-imagenet-200"
    folder.mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(TINY_WNIDS) + "\n")
    (folder / "words.txt").write_text("".join(f"{wnid}\t{lemmas}\n" for wnid, lemmas in TINY_WORDS.items()))
    wnids = sorted(TINY_WNIDS)
    seed = 0
    for wnid, count in TINY_TRAIN_COUNTS.items():
        boxes = []
        for n in range(count):
            name = f"{wnid}_{n}.JPEG"
            gray = (wnid, n) == ("n01443537", 1)
            write_jpeg(folder / "train" / wnid / "images" / name, seed, grayscale=gray)
            boxes.append(f"{name}\t0\t6\t63\t61\n")
            seed += 1
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text("".join(boxes))
    rows = []
    for name, wnid in TINY_VAL:
        write_jpeg(folder / "val" / "images" / name, seed)
        rows.append(f"{name}\t{wnid}\t0\t32\t44\t62\n")
        seed += 1
    (folder / "val" / "val_annotations.txt").write_text("".join(rows))
    for n in range(2):
        write_jpeg(folder / "test" / "images" / f"test_{n}.JPEG", seed + n)
    train = [
        (f"train/{wnid}/images/{wnid}_{n}.JPEG", wnids.index(wnid))
        for wnid in wnids
        for n in range(TINY_TRAIN_COUNTS[wnid])
    ]
    val = [(f"val/images/{name}", wnids.index(wnid)) for name, wnid in TINY_VAL]
    return TinyFixture(
        folder, wnids, ["goldfish", "go-kart", "reel"], train, val, "train/n01443537/images/n01443537_1.JPEG"
    )


def write_image_folder(root: Path) -> dict[str, int]:
    """A plain torchvision ImageFolder: train/<class>/*.jpg for two classes; returns images per class."""
    counts = {"cat": 2, "dog": 1}
    for name, count in counts.items():
        for n in range(count):
            write_jpeg(root / "train" / name / f"{name}_{n}.jpg", n)
    return counts
