"""Derived values and cross-section checks of a resolved config (paths, sizes, batch size, test sets)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.core.errors import ConfigError, shown, shown_path

#: Largest base LR accepted: nothing trains with a larger one, so it is a typo (1e3 for 1e-3).
MAX_LR = 100.0


def expand_path(text: str, key: str = "") -> Path:
    """Expand ~ and $VARS; relative paths are taken from the current directory.

    Raises:
        ConfigError: naming `key`, for a path the system cannot use (a NUL byte in it).
    """
    return resolve_path(Path(os.path.expandvars(os.path.expanduser(text))), key)


def resolve_path(path: Path, key: str) -> Path:
    """Path.resolve; a path the system cannot use (a NUL byte in it) is a ConfigError naming `key`."""
    try:
        return path.resolve()
    except (OSError, ValueError) as exc:
        raise ConfigError(key, _path_problem(str(path), exc)) from None


def is_dir(path: Path, key: str) -> bool:
    """Path.is_dir; a path the system cannot look up (a name too long) is a ConfigError naming `key`."""
    try:
        return path.is_dir()
    except (OSError, ValueError) as exc:
        raise ConfigError(key, _path_problem(str(path), exc)) from None


def exists(path: Path, key: str) -> bool:
    """Path.exists; a path the system cannot look up (a name too long) is a ConfigError naming `key`."""
    try:
        return path.exists()
    except (OSError, ValueError) as exc:
        raise ConfigError(key, _path_problem(str(path), exc)) from None


def _path_problem(text: str, exc: Exception) -> str:
    return f"cannot use the path {shown_path(text)}: {getattr(exc, 'strerror', None) or exc}"


def finish(cfg: dict[str, Any], check_paths: bool) -> dict[str, Any]:
    """Fill derived keys and check what spans sections."""
    model, train, evaluation = cfg["model"], cfg["train"], cfg["eval"]
    if evaluation["image_size"] is None:
        evaluation["image_size"] = list(model["image_size"])
    if cfg["task"]["name"] == "vpr":
        _finish_vpr_batch(train, cfg["loss"])
    elif train["batch_size"] < 1:
        raise ConfigError("train.batch_size", f"required for {cfg['task']['name']}: images per step, e.g. 16")
    if cfg["optim"]["lr_per_img"] > 0:
        from engine.core.schedules import yolox_base_lr

        # per image of the global batch: every DDP process adds train.batch_size images to a step
        global_batch = (train["batch_size"] or 1) * cfg["device"]["processes"]
        cfg["optim"]["lr"] = yolox_base_lr(cfg["optim"]["lr_per_img"], global_batch)
    _check_lr(cfg["optim"])
    _check_schedule(cfg["schedule"], train["max_steps"])
    _check_epochs_and_changes(cfg)
    _finish_data(cfg, check_paths)
    _finish_device(cfg["device"], check_paths)
    return cfg


def _check_lr(optim: dict[str, Any]) -> None:
    """The base LR is > 0 (nothing would train) and <= MAX_LR; a derived one names optim.lr_per_img."""
    key = "optim.lr_per_img" if optim["lr_per_img"] > 0 else "optim.lr"
    if not 0 < optim["lr"] <= MAX_LR:
        raise ConfigError(key, f"the base LR must be in (0, {MAX_LR:g}], got {optim['lr']:g}")


def _check_schedule(schedule: dict[str, Any], max_steps: int) -> None:
    """Evaluate the schedule now, so a bad parameter fails `check` and not the run at its last step."""
    # imported here: engine.core.schedules imports this package (preset_params), so not at module level
    from engine.core.schedules import validate_schedule

    validate_schedule(schedule, max_steps)


def _check_epochs_and_changes(cfg: dict[str, Any]) -> None:
    """Epoch keys are numbers ≥ 0 and the augmentation's tail a step count ≥ 0; the YOLOX schedule's tail follows
    the augmentation's; `schedule.changes` hold keys and values `set` accepts (checked as it checks them)."""
    from engine.core.config.validate import coerce
    from engine.core.schedules.changes import parse_changes
    from engine.core.schedules.epochs import EPOCH_KEYS, epoch_value, link_no_aug

    for key in EPOCH_KEYS:
        section = cfg.get(key.section)
        if isinstance(section, dict):
            epoch_value(section, key.epochs, key.epoch_key)
    augment = cfg["augment"]
    tail = coerce("augment.no_aug_steps", augment.get("no_aug_steps", 0), 0)
    if tail < 0:
        raise ConfigError("augment.no_aug_steps", f"must be ≥ 0, got {tail}")
    link_no_aug(cfg)
    parse_changes(cfg)


def _finish_device(device: dict[str, Any], check_paths: bool) -> None:
    """Processes vs GPUs, and whether this machine can launch the run at all (only when checking for here)."""
    if device["slurm_folder"]:
        device["slurm_folder"] = str(expand_path(device["slurm_folder"], "device.slurm_folder"))
    processes = device["processes"]
    if device["launcher"] == "slurm":
        gpus = device["slurm_gpus_per_node"]
        if device["name"] == "cuda" and 0 < gpus < processes:
            raise ConfigError(
                "device.slurm_gpus_per_node",
                f"{gpus} GPUs for {processes} processes: each process "
                f"needs its own GPU; set it to {processes} or 0 (one each)",
            )
        if check_paths:
            from engine.core.slurm import require_sbatch

            require_sbatch()
        return
    if check_paths and processes > 1 and device["name"] != "cpu":
        _check_local_gpus(device["name"], processes)


def _check_local_gpus(name: str, processes: int) -> None:
    """DDP on CUDA takes one GPU per process: fewer than device.processes is an error before anything starts."""
    from engine.core.gpus import visible_gpu_count

    gpus = visible_gpu_count()
    if gpus is None:
        return  # no NVML here to count with: the engine checks again when it starts
    if (name == "cuda" and gpus < processes) or (name == "auto" and 0 < gpus < processes):
        raise ConfigError(
            "device.processes",
            f"{processes} processes on {name} need one CUDA GPU each, but this "
            f"machine has {gpus}; lower device.processes or use device.name=cpu",
        )


ONE_IMAGE_PER_CLASS_LOSSES = ("cosface", "arcface")
"""VPR losses that classify places, so that one image of a place in a batch is enough (CosPlace's batches)."""


def _finish_vpr_batch(train: dict[str, Any], loss: dict[str, Any]) -> None:
    names = [str(c.get("name")) for c in loss.get("components") or [loss]]
    if train["images_per_place"] < 2 and not all(n in ONE_IMAGE_PER_CLASS_LOSSES for n in names):
        raise ConfigError(
            "train.images_per_place",
            f"{loss.get('name')} learns from pairs of images of one place: at least 2 per place "
            "(the classification losses cosface and arcface, CosPlace's too, take 1)",
        )
    product = train["places_per_batch"] * train["images_per_place"]
    if train["batch_size"] not in (0, product):
        raise ConfigError(
            "train.batch_size",
            f"for VPR it is places_per_batch × images_per_place = {product}; "
            f"set those instead (or batch_size: 0)",
        )
    train["batch_size"] = product


def _finish_data(cfg: dict[str, Any], check_paths: bool) -> None:
    data, evaluation, task = cfg["data"], cfg["eval"], cfg["task"]["name"]
    evaluate_only = cfg["train"]["max_steps"] == 0 and not cfg["train"].get("max_epochs")
    if not data["root"] and not evaluate_only:
        raise ConfigError(
            "data.root", "required: the data set folder (or set data.synthetic: true to make one)"
        )
    root = expand_path(data["root"], "data.root") if data["root"] else None
    data["root"] = str(root) if root else ""
    if data["cache_dir"]:
        data["cache_dir"] = str(expand_path(data["cache_dir"], "data.cache_dir"))
    pending = bool(data["synthetic"]) and root is not None and not exists(root, "data.root")
    if check_paths and root is not None and not pending and not is_dir(root, "data.root"):
        demo = "the demo city" if task == "vpr" else "the demo data"
        raise ConfigError(
            "data.root", f"folder not found: {root} (set data.synthetic: true to make {demo} there)"
        )
    for section in ("val_sets", "test_sets"):
        evaluation[section] = [
            _test_set(i, item, root, section) for i, item in enumerate(evaluation[section])
        ]
    names = [t["name"] for section in ("val_sets", "test_sets") for t in evaluation[section]]
    if len(set(names)) != len(names):
        raise ConfigError(
            "eval.test_sets", f"validation and test set names must be unique together, got {names}"
        )
    if evaluate_only and not names:
        raise ConfigError(
            "eval.test_sets", "an evaluation-only run (train.max_steps: 0) needs at least one test set"
        )
    # the engine makes (or remakes, after a generator change) a synthetic set's folders before reading them
    made_by_engine = bool(data["synthetic"])
    for section in ("val_sets", "test_sets"):  # their layouts are the engine's to check
        for index, entry in enumerate(evaluation[section]):
            key = f"eval.{section}[{index}].path"
            if check_paths and not made_by_engine and not is_dir(Path(entry["path"]), key):
                what = "validation set" if section == "val_sets" else "test set"
                raise ConfigError(key, f"not a {what} folder: {entry['path']} (folder not found)")


def _is_test_set_text(field: str, value: Any) -> bool:
    """A test set's fields are strings; a name may be a number (2017), split and format may be null."""
    if field == "name" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    return isinstance(value, str) or (value is None and field in ("split", "format"))


def _test_set(index: int, item: Any, root: Path | None, section: str = "test_sets") -> dict[str, str]:
    """{name, path, split?, format?} with an absolute path (relative ones are under data.root; none: data.root)."""
    key = f"eval.{section}[{index}]"
    if isinstance(item, str):
        item = {"name": Path(item).name, "path": item}
    if (
        not isinstance(item, dict)
        or set(item) - {"name", "path", "split", "format"}
        or not ("path" in item or "split" in item)
    ):
        raise ConfigError(key, f"expected {{name, path}} (and optionally split, format), got {shown(item)}")
    for field, text in item.items():
        if not _is_test_set_text(field, text):
            raise ConfigError(f"{key}.{field}", f"expected a string, got {shown(text)}")
    path = Path(os.path.expandvars(os.path.expanduser(item.get("path", "."))))
    if not path.is_absolute():
        if root is None:
            raise ConfigError(
                f"{key}.path",
                f"'{path}' is relative to data.root, which is empty: give an absolute path or set data.root",
            )
        path = root / path
    name = str(item.get("name") or (item.get("split") if path == root else path.name) or path.name)
    out = {"name": name, "path": str(resolve_path(path, f"{key}.path"))}
    for optional in ("split", "format"):
        if item.get(optional):
            out[optional] = str(item[optional])
    return out
