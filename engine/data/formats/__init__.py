"""Data set formats: one module per published layout registers itself in DATA_FORMATS; `find_format` picks one."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from engine.core.errors import ConfigError, UserError
from engine.data.formats.base import (
    DATA_FORMATS,
    BoxIndex,
    DataFormat,
    FormatOptions,
    LabelIndex,
    MaskIndex,
    PlaceIndex,
    RetrievalIndex,
    describe_index,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

#: Formats tried by `auto`, most specific first: a generic folder layout only when no published one matches.
_GENERIC = ("gmberton", "seg_folders", "image_folder")


def formats_of(task: str) -> list[DataFormat]:
    """Every registered format of `task`, published layouts first."""
    found = [entry.factory() for entry in DATA_FORMATS]
    found = [f for f in found if f.task == task]
    return sorted(found, key=lambda f: (f.name in _GENERIC, f.name))


def find_format(task: str, name: str, root: Path, split: str | None, key: str = "data.format") -> DataFormat:
    """The format called `name`, or with `auto` the first of the task's formats whose layout `root` holds.

    Raises:
        ConfigError: a format of another task.
        UserError: `auto` found no known layout (the message lists what each format expects).
    """
    if name != "auto":
        chosen = DATA_FORMATS.build(name)
        if chosen.task != task:
            allowed = ", ".join(f.name for f in formats_of(task))
            raise ConfigError(
                key, f"'{name}' is a {chosen.task} format, not {task}; allowed: auto, {allowed}"
            )
        return chosen
    if not root.is_dir():
        raise UserError(f"data folder {root} not found")
    for candidate in formats_of(task):
        if candidate.detect(root, split):
            return candidate
    where = root / split if split else root
    expected = "; ".join(f"{f.title}: {f.layout}" for f in formats_of(task))
    raise UserError(f"{where}: no known {task} data layout found; expected one of: {expected}")


__all__ = [
    "DATA_FORMATS",
    "BoxIndex",
    "DataFormat",
    "FormatOptions",
    "LabelIndex",
    "MaskIndex",
    "PlaceIndex",
    "RetrievalIndex",
    "describe_index",
    "find_format",
    "formats_of",
]


def test_split(chosen: DataFormat, entry: dict) -> str | None:
    """The split a test set entry reads: its own `split`, else the format's default (None: the path is the split)."""
    return entry.get("split") or chosen.default_test_split


def has_training_data(cfg: dict) -> bool:
    """Whether the run reads a training split: always when it trains; for evaluation-only runs when one is there."""
    data = cfg["data"]
    if cfg["train"]["max_steps"] > 0:
        return True
    if not data["root"]:
        return False
    root, split = Path(data["root"]), data["train_dir"]
    if (root / split).exists():
        return True
    try:  # layouts whose splits are not folders of the root (YOLO's images/<split>, VOC's ImageSets lists)
        return find_format(cfg["task"]["name"], data.get("format", "auto"), root, split).detect(root, split)
    except UserError:
        return False


def preflight(cfg: dict) -> None:
    """Check that data.root and every validation and test set hold a layout of the task (cheap: a few names, no
    listing).

    Raises:
        ConfigError: at data.root / data.format or eval.val_sets[i].path / eval.test_sets[i].path, naming what
            was expected.
    """
    task, data = cfg["task"]["name"], cfg["data"]
    if has_training_data(cfg):
        _checked_format(task, data["format"], Path(data["root"]), data["train_dir"], "data.root")
    for section, what in (("val_sets", "validation set"), ("test_sets", "test set")):
        for i, entry in enumerate(cfg["eval"].get(section) or []):
            _check_eval_set(task, entry, f"eval.{section}[{i}].path", what)


def _check_eval_set(task: str, entry: dict, key: str, what: str) -> None:
    if not Path(entry["path"]).is_dir():
        raise ConfigError(key, f"not a {what} folder: {entry['path']} (folder not found)")
    chosen = _checked_format(
        task, entry.get("format") or "auto", Path(entry["path"]), entry.get("split"), key
    )
    split = test_split(chosen, entry)
    if split is not None and split != entry.get("split") and not chosen.detect(Path(entry["path"]), split):
        raise ConfigError(
            key, f"{entry['path']} holds no '{split}' split of {chosen.title} ({chosen.layout})"
        )


def _checked_format(task: str, name: str, root: Path, split: str | None, key: str) -> DataFormat:
    try:
        chosen = find_format(task, name, root, split, key="data.format")
    except ConfigError:
        raise
    except UserError as exc:
        raise ConfigError(key, str(exc)) from None
    if name != "auto" and not chosen.detect(root, split):
        where = root / split if split and chosen.name in _GENERIC else root
        raise ConfigError(key, f"{where} is not a {chosen.title} folder: expected {chosen.layout}")
    return chosen
