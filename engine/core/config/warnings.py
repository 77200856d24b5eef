"""Warnings for configs that are valid but cannot do what they seem to (torch-free).

The composer shows them under its status line and `labconsole check` prints them on stderr; neither refuses
the config, since each may be meant (a frozen random backbone is a fair baseline).
"""

from __future__ import annotations

import math
from typing import Any

MIN_FEATURE_MAP = 3
"""Fewest feature-map cells per side a spatial aggregator gets before pooling degenerates."""

ESTIMATED_STEPS_PER_EPOCH = 1000.0
"""Steps per epoch assumed to place epoch-based freeze phases when no model summary counted them."""

#: Aggregators that read one token rather than a spatial map (a 1×1 map is what they expect).
NON_SPATIAL_AGGREGATORS = ("cls",)


def config_warnings(
    cfg: dict[str, Any], model: dict[str, Any] | None = None, gpus: int | None = None
) -> list[str]:
    """One line per way the resolved `cfg` cannot do what it seems to.

    Args:
        cfg: A resolved run config.
        model: The engine's model summary (`labconsole check --json`'s `model`), when counted: its steps per
            epoch place epoch-based freeze phases and its `feature_map` gives the backbone's output size.
        gpus: CUDA GPUs on this host (`engine.core.gpus.visible_gpu_count()`); None when unknown.
    """
    return [
        *_phases_after_end(cfg, model),
        *_changes_after_end(cfg, model),
        *_frozen_random_backbone(cfg, model),
        *_small_feature_map(cfg, model),
        *_cuda_missing(cfg, gpus),
        *_presets_off_task(cfg),
        *_selects_on_test(cfg),
    ]


def _phases(cfg: dict[str, Any], model: dict[str, Any] | None) -> list[Any]:
    """The freeze phases on the step axis ([] when the section cannot be built; validation says why)."""
    from engine.core.errors import ConfigError
    from engine.core.freeze import build_freeze

    steps_per_epoch = float((model or {}).get("steps_per_epoch") or ESTIMATED_STEPS_PER_EPOCH)
    try:
        return build_freeze(cfg["freeze"]).phases(_max_steps(cfg, model), steps_per_epoch)
    except (ConfigError, KeyError, TypeError, ValueError):
        return []


def _max_steps(cfg: dict[str, Any], model: dict[str, Any] | None) -> int:
    """The run's length in steps: train.max_epochs converted at the counted (or estimated) steps per epoch."""
    from engine.core.schedules.epochs import effective_steps

    steps_per_epoch = float((model or {}).get("steps_per_epoch") or ESTIMATED_STEPS_PER_EPOCH)
    try:
        return int(effective_steps(cfg, steps_per_epoch)["train"]["max_steps"])
    except (ValueError, TypeError, KeyError):
        return int(cfg["train"]["max_steps"])


def _changes_after_end(cfg: dict[str, Any], model: dict[str, Any] | None) -> list[str]:
    max_steps = _max_steps(cfg, model)
    return [
        f"schedule.changes[{entry['index']}] applies at step {entry['step']}, after the run's {max_steps} "
        "steps: it never runs"
        for entry in (model or {}).get("scheduled_changes") or []
        if entry["step"] >= max_steps > 0
    ]


def _phases_after_end(cfg: dict[str, Any], model: dict[str, Any] | None) -> list[str]:
    max_steps = _max_steps(cfg, model)
    late = [phase for phase in _phases(cfg, model) if not phase.in_run]
    if max_steps == 0:
        return []
    estimated = "" if (model or {}).get("steps_per_epoch_counted") else " (epochs estimated)"
    return [
        f"freeze phase {phase.index} ({phase.label}) starts at step {phase.step}{estimated}, after "
        f"train.max_steps={max_steps}: it never runs"
        for phase in late
    ]


def _frozen_random_backbone(cfg: dict[str, Any], model: dict[str, Any] | None) -> list[str]:
    backbone = cfg["model"]["backbone"]
    if backbone.get("pretrained"):
        return []
    for phase in _phases(cfg, model):
        if phase.in_run and phase.trainable != "all" and "backbone" not in phase.trainable:
            what = "partly frozen" if any(p.startswith("backbone.") for p in phase.trainable) else "frozen"
            return [
                f"the backbone ({backbone['name']}) is {what} from step {phase.step} but not pretrained "
                f"(model.backbone.pretrained is {_yaml_word(backbone.get('pretrained'))}): "
                "its random weights stay random"
            ]
    return []


def _yaml_word(value: Any) -> str:
    """A config value as the YAML reads (`false`, `null`), for messages naming a key's value."""
    return (
        {None: "not set", False: "false", True: "true"}.get(value, repr(value))
        if not isinstance(value, str)
        else value
    )


def _small_feature_map(cfg: dict[str, Any], model: dict[str, Any] | None) -> list[str]:
    feature_map = (model or {}).get("feature_map")
    if not feature_map or cfg["model"]["aggregator"].get("name") in NON_SPATIAL_AGGREGATORS:
        return []
    if cfg["model"]["backbone"].get("output") == "cls":
        return []
    height, width = (int(side) for side in feature_map)
    if min(height, width) >= MIN_FEATURE_MAP:
        return []
    size = cfg["model"]["image_size"]
    return [
        f"the backbone's feature map is {height}×{width} at model.image_size={size} "
        f"(stride {model.get('backbone_stride', '?') if model else '?'}): smaller than "
        f"{MIN_FEATURE_MAP}×{MIN_FEATURE_MAP} leaves the aggregator almost nothing to pool; "
        "use larger images or a backbone with a smaller stride"
    ]


def feature_map_size(image_size: Any, stride: int) -> list[int]:
    """[H, W] cells of a backbone output at `stride` for `image_size` (an int or [H, W]), rounding up."""
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    return [math.ceil(int(height) / stride), math.ceil(int(width) / stride)]


def _cuda_missing(cfg: dict[str, Any], gpus: int | None) -> list[str]:
    device = cfg["device"]
    if device.get("name") != "cuda" or device.get("launcher") == "slurm" or gpus is None or gpus > 0:
        return []  # a slurm job runs on the cluster's GPUs, not this host's
    return [
        "device.name is cuda but this host shows no CUDA GPU: the run cannot start here "
        "(choose device auto or cpu, or launch it through slurm)"
    ]


def _presets_off_task(cfg: dict[str, Any]) -> list[str]:
    from engine.core.config.presets import preset_fits

    task = cfg["task"]["name"]
    sections = {
        "model.head": ("head", cfg["model"]["head"]),
        "loss": ("loss", cfg["loss"]),
        "augment": ("augment", cfg["augment"]),
    }
    out = []
    for key, (slot, section) in sections.items():
        items = section.get("components") if isinstance(section.get("components"), list) else [section]
        for item in items:
            preset = item.get("preset") or item.get("name")
            if isinstance(preset, str) and not preset_fits(slot, preset, task):
                out.append(f"{key}: the {slot} preset {preset} is not made for the {task} task")
    return out


def _selects_on_test(cfg: dict[str, Any]) -> list[str]:
    """A training run without validation sets chooses best.pt on a test set: its test numbers are then optimistic."""
    from engine.core.config.eval_sets import TEST, selection_split

    chosen = selection_split(cfg)
    if not cfg["train"].get("max_steps") or chosen is None or chosen[1] != TEST:
        return []
    return [
        f"best checkpoint is chosen on test set {chosen[0]}: declare eval.val_sets "
        "(a validation split) so that test numbers never drive a choice"
    ]
