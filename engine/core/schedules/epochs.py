"""Epoch units: `train.max_epochs`, `schedule.warmup_epochs`, `augment.no_aug_epochs` next to their step keys.

An epoch key of 0 is unused; a positive one wins over its step key and is converted once, when the run starts
(and by `check`), at the run's own steps per epoch: the training set's size over the images one optimizer step
takes (batch × accumulation × processes), the definition the trainer's fractional epochs use. Conversion rounds
up, as freeze phases given `at_epoch` are placed: `ceil(epochs × steps_per_epoch)`, at least 1 step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.core.errors import ConfigError, shown


@dataclass(frozen=True)
class EpochKey:
    """An epoch key and the step key it stands for, in one config section."""

    section: str
    epochs: str
    steps: str

    @property
    def epoch_key(self) -> str:
        return f"{self.section}.{self.epochs}"

    @property
    def step_key(self) -> str:
        return f"{self.section}.{self.steps}"


EPOCH_KEYS = (
    EpochKey("train", "max_epochs", "max_steps"),
    EpochKey("schedule", "warmup_epochs", "warmup_steps"),
    EpochKey("augment", "no_aug_epochs", "no_aug_steps"),
)


@dataclass(frozen=True)
class Conversion:
    """One epoch key converted to steps at a run's steps per epoch."""

    epoch_key: str
    step_key: str
    epochs: float
    steps: int
    steps_per_epoch: float

    def text(self) -> str:
        """ "train.max_epochs 30 → 12,345 steps (411 steps/epoch)", what check prints and the event says."""
        return (
            f"{self.epoch_key} {self.epochs:g} → {self.steps:,} steps "
            f"({per_epoch_text(self.steps_per_epoch)} steps/epoch)"
        )

    def event(self) -> dict[str, Any]:
        return {"from": self.epoch_key, "epochs": self.epochs, "steps": self.steps}


def per_epoch_text(steps_per_epoch: float) -> str:
    """411 for 411.2; 12.5 stays 12.5 (a small set's fraction matters)."""
    return f"{steps_per_epoch:,.0f}" if steps_per_epoch >= 100 else f"{steps_per_epoch:.3g}"


def epochs_to_steps(epochs: float, steps_per_epoch: float, key: str = "") -> int:
    """Steps covering `epochs` passes: ceil(epochs × steps_per_epoch) (float error tolerated), at least 1.

    Raises:
        ConfigError: naming `key` when the steps per epoch are unknown (no training data).
    """
    if not steps_per_epoch > 0:
        raise ConfigError(
            key, "needs the training set's size to count steps, and this run has no training data"
        )
    return max(1, math.ceil(epochs * steps_per_epoch - 1e-9))


def epoch_value(section: dict[str, Any], name: str, key: str) -> float:
    """An epoch key's value: a finite number ≥ 0 (0 or missing: unused)."""
    value = section.get(name, 0) or 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 2**53:
        raise ConfigError(key, f"expected a number of epochs ≥ 0 (0: unused), got {shown(value)}")
    return float(value)


def uses_epochs(cfg: dict[str, Any]) -> bool:
    """Whether any epoch key is set (the run's length or warmup then depends on the training set's size)."""
    return any(epoch_value(cfg.get(k.section) or {}, k.epochs, k.epoch_key) > 0 for k in EPOCH_KEYS)


def convert_epochs(cfg: dict[str, Any], steps_per_epoch: float) -> list[Conversion]:
    """Write each set epoch key's step count into its step key (in place); the conversions made, in key order.

    Then the YOLOX schedule's own no-augmentation tail follows the augmentation's (see `link_no_aug`).
    """
    done = []
    for key in EPOCH_KEYS:
        section = cfg.get(key.section)
        if not isinstance(section, dict):
            continue
        epochs = epoch_value(section, key.epochs, key.epoch_key)
        if epochs > 0:
            steps = epochs_to_steps(epochs, steps_per_epoch, key.epoch_key)
            section[key.steps] = steps
            done.append(Conversion(key.epoch_key, key.step_key, epochs, steps, steps_per_epoch))
    link_no_aug(cfg)
    return done


def link_no_aug(cfg: dict[str, Any]) -> None:
    """One no-augmentation tail: YOLOX's warmcos holds its LR over `schedule.no_aug_steps` and the augmentation
    stops over `augment.no_aug_steps`; when only one is set, the other takes its value (in place)."""
    schedule, augment = cfg.get("schedule") or {}, cfg.get("augment") or {}
    if "no_aug_steps" not in schedule or not isinstance(augment, dict):
        return
    lr_tail, aug_tail = schedule.get("no_aug_steps") or 0, augment.get("no_aug_steps") or 0
    if aug_tail and not lr_tail:
        schedule["no_aug_steps"] = aug_tail
    elif lr_tail and not aug_tail:
        augment["no_aug_steps"] = lr_tail


def effective_steps(cfg: dict[str, Any], steps_per_epoch: float | None) -> dict[str, Any]:
    """A copy of `cfg` with the epoch keys converted (when the steps per epoch are known; else as it is)."""
    copied = {name: dict(value) if isinstance(value, dict) else value for name, value in cfg.items()}
    if steps_per_epoch and steps_per_epoch > 0:
        convert_epochs(copied, steps_per_epoch)
    return copied


def check_epoch_pair(section_key: str, section: Any, where: str = "") -> None:
    """A mapping written by the user may give an epoch key or its step key, not both (an epoch key of 0 is unused).

    Raises:
        ConfigError: naming both keys.
    """
    if not isinstance(section, dict):
        return
    for key in EPOCH_KEYS:
        if key.section != section_key or key.epochs not in section or key.steps not in section:
            continue
        value = section[key.epochs]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
            continue
        raise ConfigError(
            key.epoch_key,
            f"set together with {key.step_key}{where}: give one of them ({key.epochs} wins over the "
            f"{key.steps} a preset or base config brings, not over one written next to it)",
        )
