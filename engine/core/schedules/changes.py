"""`schedule.changes`: mid-run changes written in the config, of any key `labconsole set` accepts (torch-free).

`[{at_epoch: 28, set: {schedule.power: 1.2}}, {at_step: 500, set: {loss.weight.lovasz: 0.5}}]`: the trainer
applies each at its step through the steering's own code path and records it like a steered change (a `control`
event, with `scheduled: true`). `check` validates them with the rules `set` applies (the value checks below are
the ones the trainer's setters use), so a bad key or value fails before the run starts. `loss.<component>.weight`
is read as `loss.weight.<component>`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from engine.core.config.derive import MAX_LR
from engine.core.config.validate import check_keys, coerce
from engine.core.errors import ConfigError, did_you_mean, shown
from engine.core.freeze import FREEZE_HINT, steered_value

#: Keys every run may set (the loss weights, schedule keys and freeze groups depend on the config).
BASE_KEYS = ("optim.lr", "optim.lr_scale", "train.max_steps")
FREEZE_PREFIX = "freeze."
#: Switches the training augmentation off or on (the no-augmentation tail sets it off).
AUGMENT_ENABLED = "augment.enabled"
#: Augmentation keys ending so are probabilities, steerable mid-run (`augment.mosaic_prob=0.3`).
PROBABILITY_SUFFIX = "_prob"
_KEY = "schedule.changes"


@dataclass(frozen=True)
class ScheduledChange:
    """One entry of `schedule.changes`: when (a step, or an epoch placed at the run's steps per epoch) and what."""

    index: int
    values: dict[str, Any]
    at_step: int | None = None
    at_epoch: float | None = None

    @property
    def where(self) -> str:
        return f"{_KEY}[{self.index}]"

    def step(self, steps_per_epoch: float) -> int:
        """The step it applies at (after that many completed steps), placed like a freeze phase's `at_epoch`."""
        if self.at_epoch is None:
            return int(self.at_step or 0)
        return math.ceil(self.at_epoch * steps_per_epoch - 1e-9)

    def text(self) -> str:
        when = f"epoch {self.at_epoch:g}" if self.at_epoch is not None else f"step {self.at_step:,}"
        return f"{when}: " + " ".join(f"{key}={_short(value)}" for key, value in self.values.items())


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- what `set` accepts, and its value rules ----------------------------------------------------------------------
def steered_number(key: str, value: Any, default: float | int, minimum: float | None = None) -> Any:
    """A `set` value checked as the config checks it (`coerce`: its type, finite, within 64 bits), at most 2^53
    (a step count or weight beyond that is a typo, and a float could not hold it exactly), and `minimum`."""
    number = coerce(key, value, default)
    if isinstance(number, int) and not isinstance(number, bool) and abs(number) > 2**53:
        raise ConfigError(key, f"{str(number)[:20]}… is too large")
    if minimum is not None and number < minimum:
        raise ConfigError(key, f"must be ≥ {minimum}, got {number}")
    return number


def learning_rate(key: str, value: float) -> float:
    """A learning rate: finite, > 0 and at most the config's MAX_LR."""
    if not (math.isfinite(value) and 0 < value <= MAX_LR):
        raise ConfigError(key, f"must be a learning rate in (0, {MAX_LR:g}], got {value:g}")
    return value


def lr_scale(value: Any, base_lr: float) -> float:
    """`optim.lr_scale`: a factor > 0 of the base LR; returns the new base LR."""
    scale = steered_number("optim.lr_scale", value, 1.0)
    if scale <= 0:
        raise ConfigError("optim.lr_scale", f"must be > 0, got {scale:g}")
    return learning_rate("optim.lr_scale", base_lr * scale)


def max_steps_value(value: Any, schedule: dict[str, Any], at_least: int) -> int:
    """`train.max_steps`: a step count ≥ `at_least` (the step it is set at) that the schedule can run to."""
    from engine.core.schedules import validate_schedule

    steps = steered_number("train.max_steps", value, 0)
    if steps < at_least:
        raise ConfigError("train.max_steps", f"must be ≥ the current step {at_least}, got {steps}")
    validate_schedule(schedule, steps)
    return int(steps)


def loss_weight(key: str, value: Any) -> float:
    return float(steered_number(key, value, 1.0, minimum=0.0))


def schedule_value(schedule: dict[str, Any], name: str, value: Any, max_steps: int) -> Any:
    """`schedule.<name>`: of the type the section holds, and a schedule that still evaluates (as the config's)."""
    from engine.core.schedules import validate_schedule

    number = steered_number(f"schedule.{name}", value, schedule[name])
    validate_schedule({**schedule, name: number}, max_steps)
    return number


def augment_enabled(value: Any) -> bool:
    """`augment.enabled`: on (true) or off (false)."""
    text = str(value).strip().lower()
    if value is True or text in ("on", "true", "yes", "1"):
        return True
    if value is False or text in ("off", "false", "no", "0"):
        return False
    raise ConfigError(AUGMENT_ENABLED, f"expected on or off, got {shown(value)}")


def loss_components(loss: dict[str, Any]) -> list[str]:
    """The names a loss mix gives its components (engine.losses.mix: a repeated loss gets _2, _3, …)."""
    names: list[str] = []
    for item in loss.get("components") or []:
        name = str(item.get("name")) if isinstance(item, dict) else str(item)
        key, count = name, 1
        while key in names:
            count += 1
            key = f"{name}_{count}"
        names.append(key)
    return names


def schedule_keys(schedule: dict[str, Any]) -> list[str]:
    """The schedule keys `set` may change: the LR function's parameters."""
    from engine.core.schedules import SECTION_KEYS

    return [key for key in schedule if key not in ("name", "preset", *SECTION_KEYS)]


def augment_probability_keys(augment: dict[str, Any]) -> list[str]:
    """The augmentation's probabilities `set` may change: every key of the section ending in `_prob`
    (`augment.mosaic_prob`); the augmentation must offer them to the trainer (`set_probability`)."""
    return [f"augment.{key}" for key in augment if str(key).endswith(PROBABILITY_SUFFIX)]


def probability(key: str, value: Any) -> float:
    """A probability in [0, 1]."""
    number = float(steered_number(key, value, 0.5))
    if not 0.0 <= number <= 1.0:
        raise ConfigError(key, f"must be a probability in [0, 1], got {number:g}")
    return number


def model_option_keys(cfg: dict[str, Any]) -> list[str]:
    """`model.backbone.<option>` keys its preset declares steerable (`steerable: [router, expert.<i>]`): options
    the backbone checks itself when the command arrives (a router name, an expert switched off)."""
    from engine.core.config.presets import has_preset, load_preset

    section = (cfg.get("model") or {}).get("backbone") or {}
    preset = str(section.get("preset") or section.get("name") or "")
    if not preset or not has_preset("backbone", preset):
        return []
    declared = load_preset("backbone", preset, "model.backbone").get("steerable") or []
    return [f"model.backbone.{option}" for option in declared] if isinstance(declared, list) else []


def _matches_option(key: str, pattern: str) -> bool:
    """`model.backbone.expert.3` matches `model.backbone.expert.<i>`."""
    return re.fullmatch(re.sub(r"<[^>]*>", r"[^.]+", re.escape(pattern)), key) is not None


def settable_keys(cfg: dict[str, Any]) -> list[str]:
    """Every key `set` accepts on a run of `cfg`, the freeze family as its hint: what the trainer registers."""
    return [
        *BASE_KEYS,
        *(f"loss.weight.{name}" for name in loss_components(cfg["loss"])),
        *(f"schedule.{key}" for key in schedule_keys(cfg["schedule"])),
        AUGMENT_ENABLED,
        *augment_probability_keys(cfg.get("augment") or {}),
        *model_option_keys(cfg),
        FREEZE_HINT,
    ]


def canonical_key(key: str) -> str:
    """`loss.lovasz.weight` as `loss.weight.lovasz`; any other key as it is."""
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "loss" and parts[2] == "weight":
        return f"loss.weight.{parts[1]}"
    return key


def check_value(cfg: dict[str, Any], key: str, value: Any, at_step: int = 0) -> Any:
    """`value` for `key` checked with the rules `set` applies on a run of `cfg` (freeze paths are checked
    against the model by the engine); returns it as the steering reports it.

    Raises:
        ConfigError: naming the key and what is allowed.
    """
    if key == "optim.lr":
        return learning_rate(key, steered_number(key, value, 1.0))
    if key == "optim.lr_scale":
        lr_scale(value, cfg["optim"]["lr"])
        return steered_number(key, value, 1.0)
    if key == "train.max_steps":
        return max_steps_value(value, cfg["schedule"], at_step)
    if key.startswith("loss.weight.") and key.removeprefix("loss.weight.") in loss_components(cfg["loss"]):
        return loss_weight(key, value)
    if key.startswith("schedule.") and key.removeprefix("schedule.") in schedule_keys(cfg["schedule"]):
        return schedule_value(
            cfg["schedule"], key.removeprefix("schedule."), value, cfg["train"]["max_steps"]
        )
    if key == AUGMENT_ENABLED:
        return "on" if augment_enabled(value) else "off"
    if key in augment_probability_keys(cfg.get("augment") or {}):
        return probability(key, value)
    if any(_matches_option(key, pattern) for pattern in model_option_keys(cfg)):
        return value  # the model checks it when it arrives (the run's backbone knows its routers and experts)
    if key.startswith(FREEZE_PREFIX) and len(key) > len(FREEZE_PREFIX):
        trainable = steered_value(key, value)
        return "schedule" if trainable is None else "trainable" if trainable else "frozen"
    allowed = settable_keys(cfg)
    raise ConfigError(key, f"cannot set {key}{did_you_mean(key, allowed)}; settable: {', '.join(allowed)}")


# -- the config's list -------------------------------------------------------------------------------------------
def parse_changes(cfg: dict[str, Any]) -> list[ScheduledChange]:
    """The resolved config's `schedule.changes`, each key and value checked as `set` would.

    Raises:
        ConfigError: naming `schedule.changes[i]...` and what is allowed.
    """
    items = (cfg.get("schedule") or {}).get("changes") or []
    if not isinstance(items, list):
        raise ConfigError(
            _KEY, f"expected a list like [{{at_epoch: 28, set: {{schedule.power: 1.2}}}}], got {shown(items)}"
        )
    return [_parse_one(cfg, index, item) for index, item in enumerate(items)]


def _parse_one(cfg: dict[str, Any], index: int, item: Any) -> ScheduledChange:
    where = f"{_KEY}[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(
            where, f"expected {{at_step: N or at_epoch: E, set: {{key: value}}}}, got {shown(item)}"
        )
    check_keys(where, item, ["at_step", "at_epoch", "set"])
    if ("at_step" in item) == ("at_epoch" in item):
        raise ConfigError(where, "give exactly one of at_step (an integer) or at_epoch (a number)")
    values = item.get("set")
    if not isinstance(values, dict) or not values:
        raise ConfigError(
            f"{where}.set", f"expected a mapping of settable keys to values, got {shown(values)}"
        )
    at_step = at_epoch = None
    if "at_step" in item:
        at_step = _whole(f"{where}.at_step", item["at_step"])
    else:
        at_epoch = _epochs(f"{where}.at_epoch", item["at_epoch"])
    checked = {}
    for raw_key, value in values.items():
        key = canonical_key(str(raw_key))
        try:
            check_value(cfg, key, value, at_step or 0)
            checked[key] = value  # as written: the trainer's setter checks it again at its step
        except ConfigError as exc:
            raise ConfigError(f"{where}.set.{raw_key}", exc.message) from None
    return ScheduledChange(index, checked, at_step, at_epoch)


def _whole(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**53:
        raise ConfigError(key, f"expected an integer ≥ 0, got {shown(value)}")
    return value


def _epochs(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 2**53:
        raise ConfigError(key, f"expected a number of epochs ≥ 0, got {shown(value)}")
    return float(value)
