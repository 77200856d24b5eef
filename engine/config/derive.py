"""Derived values and cross-section checks of a resolved config (paths, sizes, batch size, test sets)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

TEST_SET_HINT = "expected database/ and queries/ with images named @utm_east@utm_north@...@.jpg"


def expand_path(text: str) -> Path:
    """Expand ~ and $VARS; relative paths are taken from the current directory."""
    return Path(os.path.expandvars(os.path.expanduser(text))).resolve()


def finish(cfg: dict[str, Any], check_paths: bool) -> dict[str, Any]:
    """Fill derived keys and check what spans sections."""
    model, train, evaluation, data = cfg["model"], cfg["train"], cfg["eval"], cfg["data"]
    if evaluation["image_size"] is None:
        evaluation["image_size"] = list(model["image_size"])
    if cfg["task"]["name"] == "vpr":
        _finish_vpr_batch(train)
    if cfg["optim"]["lr_per_img"] > 0:
        from engine.schedules import yolox_base_lr

        cfg["optim"]["lr"] = yolox_base_lr(cfg["optim"]["lr_per_img"], train["batch_size"] or 1)
    _finish_data(data, evaluation, check_paths)
    return cfg


def _finish_vpr_batch(train: dict[str, Any]) -> None:
    if train["images_per_place"] < 2:
        raise ConfigError("train.images_per_place", "VPR metric losses need at least 2 images of each place")
    product = train["places_per_batch"] * train["images_per_place"]
    if train["batch_size"] not in (0, product):
        raise ConfigError("train.batch_size", f"for VPR it is places_per_batch × images_per_place = {product}; "
                                              f"set those instead (or batch_size: 0)")
    train["batch_size"] = product


def _finish_data(data: dict[str, Any], evaluation: dict[str, Any], check_paths: bool) -> None:
    if not data["root"]:
        raise ConfigError("data.root", "required: the data set folder (or set data.synthetic: true to make one)")
    root = expand_path(data["root"])
    data["root"] = str(root)
    pending = data["synthetic"] and not root.exists()
    if check_paths and not pending and not root.is_dir():
        raise ConfigError("data.root", f"folder not found: {root} (set data.synthetic: true to make the demo city there)")
    evaluation["test_sets"] = [_test_set(i, item, root, check_paths and not pending)
                               for i, item in enumerate(evaluation["test_sets"])]
    names = [t["name"] for t in evaluation["test_sets"]]
    if len(set(names)) != len(names):
        raise ConfigError("eval.test_sets", f"test set names must be unique, got {names}")
    if check_paths and not pending and not (root / data["train_dir"]).is_dir():
        raise ConfigError("data.train_dir", f"folder not found: {root / data['train_dir']}")


def _test_set(index: int, item: Any, root: Path, check_paths: bool) -> dict[str, str]:
    key = f"eval.test_sets[{index}]"
    if isinstance(item, str):
        item = {"name": Path(item).name, "path": item}
    if not isinstance(item, dict) or set(item) - {"name", "path"} or "path" not in item:
        raise ConfigError(key, f"expected {{name, path}}, got {item!r}")
    path = Path(os.path.expandvars(os.path.expanduser(str(item["path"]))))
    path = path if path.is_absolute() else root / path
    if check_paths and not (path / "database").is_dir() or check_paths and not (path / "queries").is_dir():
        raise ConfigError(f"{key}.path", f"not a test set folder: {path} ({TEST_SET_HINT})")
    return {"name": str(item.get("name") or path.name), "path": str(path)}
