"""What `labconsole set` may change in a live run. Each setter checks a value and returns what to report and
the change itself, so a command with one bad key changes nothing (the steering commits only when all pass)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.core.config.validate import coerce
from engine.core.errors import ConfigError
from engine.freeze import FREEZE_HINT, ModelPaths, resolve_paths, steered_value
from engine.steering import positive_number

if TYPE_CHECKING:
    from engine.trainer import Trainer

Change = tuple[Any, Callable[[], None]]
"""(the value reported in the control event, the function that applies it)."""


def register_setters(trainer: Trainer) -> None:
    """Every key the trainer accepts mid-run: LR, LR scale, max steps, loss weights, schedule keys, freezing."""
    steering = trainer.steering
    steering.add_setter("optim.lr", lambda v: lr_change(trainer, positive_number("optim.lr", v)))
    steering.add_setter("optim.lr_scale", lambda v: lr_change(
        trainer, trainer.schedule.base_lr * positive_number("optim.lr_scale", v)))
    steering.add_setter("train.max_steps", lambda v: max_steps_change(trainer, v))
    loss = trainer.task.modules().get("loss")
    for component in getattr(loss, "weights", {}) or {}:
        steering.add_setter(f"loss.weight.{component}",
                            lambda v, c=component: loss_weight_change(loss, c, v))  # type: ignore[misc]
    for key, default in trainer.schedule.schedule.items():
        if key not in ("name", "preset"):
            steering.add_setter(f"schedule.{key}", lambda v, k=key, d=default: schedule_change(trainer, k, d, v))
    steering.add_prefix_setter("freeze.", lambda path, v: freeze_change(trainer, path, v), FREEZE_HINT)


def lr_change(trainer: Trainer, lr: float) -> Change:
    def commit() -> None:
        trainer.schedule.base_lr = lr
        trainer.schedule.apply(trainer.step)

    return lr, commit


def max_steps_change(trainer: Trainer, value: Any) -> Change:
    steps = coerce("train.max_steps", value, 0)
    if steps < trainer.step:
        raise ConfigError("train.max_steps", f"must be ≥ the current step {trainer.step}, got {steps}")

    def commit() -> None:
        trainer.max_steps = trainer.schedule.max_steps = steps
        trainer.phases = trainer.freeze.phases(trainer.max_steps, trainer.steps_per_epoch,
                                               ModelPaths(trainer.task.modules()))

    return steps, commit


def loss_weight_change(loss: Any, component: str, value: Any) -> Change:
    weight = coerce(f"loss.weight.{component}", value, 1.0)
    if weight < 0:
        raise ConfigError(f"loss.weight.{component}", f"must be ≥ 0, got {weight}")
    return weight, lambda: loss.set_weight(component, weight)


def schedule_change(trainer: Trainer, key: str, default: Any, value: Any) -> Change:
    number = coerce(f"schedule.{key}", value, default)

    def commit() -> None:
        trainer.schedule.schedule[key] = number
        trainer.schedule.apply(trainer.step)

    return number, commit


def freeze_change(trainer: Trainer, path: str, value: Any) -> Change:
    """Freeze (on), unfreeze (off) or hand back to the schedule a module group or backbone stage, from now on.

    The override outlives later schedule phases until set back to `schedule`; the optimizer already holds every
    parameter, so an unfrozen one simply starts getting updates (fresh optimizer state).
    """
    key = f"freeze.{path}"
    trainable = steered_value(key, value)
    paths = list(resolve_paths(trainer.task.modules(), [path], key))
    if trainable and getattr(trainer.task, "cache", None) is not None and any(p.startswith("backbone") for p in paths):
        raise ConfigError(key, "this run trains on cached backbone features (train.feature_cache), so the "
                               "backbone cannot train; relaunch with train.feature_cache=off to unfreeze it")
    if "head" in paths:
        paths.append("loss")  # a margin loss's class weights are the head's classifier

    def commit() -> None:
        overrides = trainer.freeze_overrides
        for name in paths:
            for old in [p for p in overrides if p == name or p.startswith(f"{name}.")]:
                del overrides[old]
            if trainable is not None:
                overrides[name] = trainable
        if trainer.phase is not None:
            trainer.enter_phase(steered=True)

    return "schedule" if trainable is None else "trainable" if trainable else "frozen", commit
