"""CIFAR-10 and CIFAR-100, binary versions: fixed-size records (label bytes, then R, G, B planes of 32×32)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.core.errors import UserError
from engine.data.formats.base import DATA_FORMATS, DataFormat, FormatOptions, LabelIndex, select_classes

SIDE = 32
PIXEL_BYTES = 3 * SIDE * SIDE


class CifarRecords:
    """Images stored as records of CIFAR .bin files, mapped read-only on the first read in each process.

    Only file names and compact arrays are held, so forked DataLoader workers share the object untouched; each
    process maps the files itself (a pickled copy carries no mapping either).
    """

    cacheable = False  # records already are raw pixels: a decoded cache would only copy them

    def __init__(
        self, files: list[Path], record_bytes: int, counts: list[int], records: np.ndarray | None = None
    ) -> None:
        self.files = [str(f) for f in files]
        self.record_bytes = record_bytes
        self.ends = np.cumsum(counts, dtype=np.int64)
        total = int(self.ends[-1]) if len(self.ends) else 0
        self.records = np.arange(total, dtype=np.int64) if records is None else np.asarray(records, np.int64)
        self._maps: list[np.memmap | None] = []
        self._pid = -1

    def __len__(self) -> int:
        return len(self.records)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_maps"], state["_pid"] = [], -1  # a mapping is per process; pickling one would copy the file
        return state

    def locate(self, index: int) -> tuple[int, int]:
        """(file number, record number in that file) of item `index`."""
        record = int(self.records[index])
        file_index = int(np.searchsorted(self.ends, record, side="right"))
        return file_index, record - (int(self.ends[file_index - 1]) if file_index else 0)

    def read(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        file_index, record = self.locate(index)
        planes = self._mapped(file_index)[record, self.record_bytes - PIXEL_BYTES :]
        rgb = np.array(planes.reshape(3, SIDE, SIDE).transpose(1, 2, 0), order="C")
        if size is not None and tuple(size) != (SIDE, SIDE):
            rgb = np.asarray(Image.fromarray(rgb).resize((size[1], size[0]), Image.Resampling.BILINEAR))
        return rgb

    def describe(self, index: int) -> str:
        file_index, record = self.locate(index)
        return f"{self.files[file_index]} record {record}"

    def fingerprint(self) -> str:
        digest = hashlib.sha1(f"{self.record_bytes}\n".encode())
        for name in self.files:
            st = os.stat(name)
            digest.update(f"{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        digest.update(self.records.tobytes())
        return digest.hexdigest()[:16]

    def _mapped(self, file_index: int) -> np.memmap:
        if self._pid != os.getpid():
            self._maps, self._pid = [None] * len(self.files), os.getpid()
        mapped = self._maps[file_index]
        if mapped is None:
            count = int(self.ends[file_index]) - (int(self.ends[file_index - 1]) if file_index else 0)
            mapped = np.memmap(self.files[file_index], np.uint8, "r", shape=(count, self.record_bytes))
            self._maps[file_index] = mapped
        return mapped


class CifarFormat(DataFormat):
    """A CIFAR binary release; subclasses name its folder, files and label byte."""

    task = "classification"
    default_test_split = "test"
    folder = ""  # what the archive extracts to
    names_file = ""  # class names, one per line in label order
    label_byte = 0
    split_files: dict[str, tuple[str, ...]] = {}

    @property
    def record_bytes(self) -> int:
        return self.label_byte + 1 + PIXEL_BYTES

    def data_folder(self, root: Path) -> Path | None:
        """`root` when it is the extracted folder, `root/<folder>` when it is the parent, else None."""
        markers = (self.names_file, *(name for files in self.split_files.values() for name in files))
        for folder in (root, root / self.folder):
            if any((folder / name).is_file() for name in markers):
                return folder
        return None

    def detect(self, root: Path, split: str | None) -> bool:
        folder = self.data_folder(root)
        if folder is None or not (folder / self.names_file).is_file():
            return False
        # an unknown split still matches, so that `read` can say which splits there are
        return all((folder / name).is_file() for name in self.split_files.get(split or "", ()))

    def classes(self, root: Path, options: FormatOptions) -> list[str] | None:
        return options.classes if options.classes is not None else self.class_names(root)

    def class_names(self, root: Path) -> list[str]:
        """The published names in label order, from the names file (blank lines skipped)."""
        path = self.required_folder(root) / self.names_file
        try:
            names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except FileNotFoundError:
            raise UserError(
                f"{self.title} class names file {path} not found: expected {self.layout}"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{self.title} class names file {path} is not readable text ({exc})") from None
        if not names:
            raise UserError(
                f"{self.title} class names file {path} is empty: expected one class name per line"
            )
        return names

    def required_folder(self, root: Path) -> Path:
        folder = self.data_folder(root)
        if folder is None:
            raise UserError(f"no {self.title} files in {root}: expected {self.layout}")
        return folder

    def split_paths(self, root: Path, split: str | None) -> list[Path]:
        """The .bin files of `split`, all present."""
        if split not in self.split_files:
            raise UserError(f"{self.title} has no split '{split}': allowed: {', '.join(self.split_files)}")
        folder = self.required_folder(root)
        paths = [folder / name for name in self.split_files[split]]
        for path in paths:
            if not path.is_file():
                raise UserError(f"{self.title} file {path} not found: expected {self.layout}")
        return paths

    def record_count(self, path: Path) -> int:
        """How many records `path` holds; a size not a positive whole number of records is an error."""
        size = path.stat().st_size
        if size == 0 or size % self.record_bytes:
            raise UserError(
                f"{self.title} file {path} is {size:,} bytes, not a whole number of "
                f"{self.record_bytes:,}-byte records (truncated or not the binary version?)"
            )
        return size // self.record_bytes

    def split_size(self, root: Path, split: str) -> int:
        """Records in `split`, from the file sizes."""
        return sum(self.record_count(path) for path in self.split_paths(root, split))

    def read(self, root: Path, split: str | None, options: FormatOptions) -> LabelIndex:
        paths = self.split_paths(root, split)
        names = self.class_names(root)
        counts = [self.record_count(path) for path in paths]
        labels = np.concatenate([self._labels(path, count, len(names)) for path, count in zip(paths, counts)])
        kept, labels = select_classes(labels, names, options.classes, self.title)
        return LabelIndex(CifarRecords(paths, self.record_bytes, counts, kept), labels)

    def summary(self, root: Path, options: FormatOptions) -> str:
        splits = " / ".join(f"{self.split_size(root, split):,} {split}" for split in self.split_files)
        return f"{self.title}: {splits} images, {len(self.class_names(root))} classes"

    def _labels(self, path: Path, count: int, num_classes: int) -> np.ndarray:
        records = np.memmap(path, np.uint8, "r", shape=(count, self.record_bytes))
        labels = records[:, self.label_byte].astype(np.int64)
        del records
        if labels.max(initial=0) >= num_classes:
            record = int(np.argmax(labels >= num_classes))
            raise UserError(
                f"{path} record {record} has label {labels[record]}, but {self.names_file} names "
                f"{num_classes} classes"
            )
        return labels


class Cifar10Format(CifarFormat):
    name = "cifar10"
    title = "CIFAR-10"
    folder = "cifar-10-batches-bin"
    names_file = "batches.meta.txt"
    label_byte = 0
    split_files = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
    layout = (
        f"{folder}/ (or its parent) holding {names_file}, data_batch_1.bin … data_batch_5.bin and "
        f"test_batch.bin (the binary version)"
    )


class Cifar100Format(CifarFormat):
    name = "cifar100"
    title = "CIFAR-100"
    folder = "cifar-100-binary"
    names_file = "fine_label_names.txt"
    label_byte = 1  # byte 0 is the coarse label (20 superclasses), not used: classes are the 100 fine ones
    split_files = {"train": ("train.bin",), "test": ("test.bin",)}
    layout = f"{folder}/ (or its parent) holding {names_file}, train.bin and test.bin (the binary version)"


@DATA_FORMATS.register("cifar10", "Classification: CIFAR-10 binary version (cifar-10-batches-bin/)")
def cifar10() -> Cifar10Format:
    return Cifar10Format()


@DATA_FORMATS.register("cifar100", "Classification: CIFAR-100 binary, fine labels (cifar-100-binary/)")
def cifar100() -> Cifar100Format:
    return Cifar100Format()
