"""Derived values and cross-section checks of a resolved config (paths, sizes, batch size, test sets)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

TEST_SET_HINT = "expected database/ and queries/ with images named @utm_east@utm_north@...@.jpg"
#: Sub-folders a test set of each task must hold, and what to tell the user when they are missing.
TEST_SET_LAYOUTS: dict[str, tuple[tuple[str, ...], str]] = {
    "vpr": (("database", "queries"), TEST_SET_HINT),
    "segmentation": (("images", "masks"), "expected images/ and masks/ (one PNG of class indices per image)"),
    "classification": ((), "expected one sub-folder per class holding its images"),
}


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
    elif train["batch_size"] < 1:
        raise ConfigError("train.batch_size", f"required for {cfg['task']['name']}: images per step, e.g. 16")
    if cfg["optim"]["lr_per_img"] > 0:
        from engine.schedules import yolox_base_lr

        # per image of the global batch: every DDP process adds train.batch_size images to a step
        global_batch = (train["batch_size"] or 1) * cfg["device"]["processes"]
        cfg["optim"]["lr"] = yolox_base_lr(cfg["optim"]["lr_per_img"], global_batch)
    _finish_data(data, evaluation, check_paths, cfg["task"]["name"])
    _finish_device(cfg["device"], check_paths)
    return cfg


def _finish_device(device: dict[str, Any], check_paths: bool) -> None:
    """Processes vs GPUs, and whether this machine can launch the run at all (only when checking for here)."""
    if device["slurm_folder"]:
        device["slurm_folder"] = str(expand_path(device["slurm_folder"]))
    processes = device["processes"]
    if device["launcher"] == "slurm":
        gpus = device["slurm_gpus_per_node"]
        if device["name"] == "cuda" and 0 < gpus < processes:
            raise ConfigError("device.slurm_gpus_per_node", f"{gpus} GPUs for {processes} processes: each process "
                                                            f"needs its own GPU; set it to {processes} or 0 (one each)")
        if check_paths:
            from engine.slurm import require_sbatch

            require_sbatch()
        return
    if check_paths and processes > 1 and device["name"] != "cpu":
        _check_local_gpus(device["name"], processes)


def _check_local_gpus(name: str, processes: int) -> None:
    """DDP on CUDA takes one GPU per process: fewer than device.processes is an error before anything starts."""
    from engine.gpus import visible_gpu_count

    gpus = visible_gpu_count()
    if gpus is None:
        return  # no NVML here to count with: the engine checks again when it starts
    if name == "cuda" and gpus < processes or name == "auto" and 0 < gpus < processes:
        raise ConfigError("device.processes", f"{processes} processes on {name} need one CUDA GPU each, but this "
                                              f"machine has {gpus}; lower device.processes or use device.name=cpu")


def _finish_vpr_batch(train: dict[str, Any]) -> None:
    if train["images_per_place"] < 2:
        raise ConfigError("train.images_per_place", "VPR metric losses need at least 2 images of each place")
    product = train["places_per_batch"] * train["images_per_place"]
    if train["batch_size"] not in (0, product):
        raise ConfigError("train.batch_size", f"for VPR it is places_per_batch × images_per_place = {product}; "
                                              f"set those instead (or batch_size: 0)")
    train["batch_size"] = product


def _finish_data(data: dict[str, Any], evaluation: dict[str, Any], check_paths: bool, task: str) -> None:
    if not data["root"]:
        raise ConfigError("data.root", "required: the data set folder (or set data.synthetic: true to make one)")
    root = expand_path(data["root"])
    data["root"] = str(root)
    pending = data["synthetic"] and not root.exists()
    if check_paths and not pending and not root.is_dir():
        demo = "the demo city" if task == "vpr" else "the demo data"
        raise ConfigError("data.root", f"folder not found: {root} (set data.synthetic: true to make {demo} there)")
    layout = TEST_SET_LAYOUTS.get(task, TEST_SET_LAYOUTS["vpr"])
    evaluation["test_sets"] = [_test_set(i, item, root, check_paths and not pending, layout)
                               for i, item in enumerate(evaluation["test_sets"])]
    names = [t["name"] for t in evaluation["test_sets"]]
    if len(set(names)) != len(names):
        raise ConfigError("eval.test_sets", f"test set names must be unique, got {names}")
    if check_paths and not pending and not (root / data["train_dir"]).is_dir():
        raise ConfigError("data.train_dir", f"folder not found: {root / data['train_dir']}")


def _test_set(index: int, item: Any, root: Path, check_paths: bool,
              layout: tuple[tuple[str, ...], str]) -> dict[str, str]:
    key = f"eval.test_sets[{index}]"
    if isinstance(item, str):
        item = {"name": Path(item).name, "path": item}
    if not isinstance(item, dict) or set(item) - {"name", "path"} or "path" not in item:
        raise ConfigError(key, f"expected {{name, path}}, got {item!r}")
    path = Path(os.path.expandvars(os.path.expanduser(str(item["path"]))))
    path = path if path.is_absolute() else root / path
    subfolders, hint = layout
    if check_paths and not all((path / sub).is_dir() for sub in (*subfolders, ".")):
        raise ConfigError(f"{key}.path", f"not a test set folder: {path} ({hint})")
    return {"name": str(item.get("name") or path.name), "path": str(path)}
