"""The freeze-schedule registry, its entries, and validation of user-written `freeze.phases` (torch-free)."""

from __future__ import annotations

from typing import Any, Literal

from engine.core.config.validate import check_keys
from engine.core.errors import ConfigError
from engine.core.freeze.schedule import ALL, FreezeSchedule, PhaseSpec
from engine.core.registry import Registry

FREEZE = Registry("freeze schedule", "freeze.name")
_KEY = "freeze"
#: What trains whenever the backbone (or part of it) is frozen: every other top-level group, whatever the task
#: calls them (aggregator and head for VPR, head or neck for segmentation); the loss follows the head.
_NOT_BACKBONE = ("non_backbone",)
#: The progressive preset's phases: head → neck (aggregator) → last stage → all, as in the experiment logs.
DEFAULT_PHASES: list[dict[str, Any]] = [
    {"at_step": 0, "trainable": ["head", "aggregator"]},
    {"at_epoch": 1, "trainable": ["head", "aggregator", "backbone.-1"]},
    {"at_epoch": 2, "trainable": "all"},
]


@FREEZE.register("none")
def none() -> FreezeSchedule:
    """Train every parameter from the first step."""
    return FreezeSchedule("none", [PhaseSpec(label=ALL)], norm_eval=False)


@FREEZE.register("frozen_backbone")
def frozen_backbone(norm_eval: bool = True) -> FreezeSchedule:
    """Backbone frozen for the whole run (linear probe); aggregator, head and loss train."""
    return FreezeSchedule(
        "frozen_backbone", [PhaseSpec(trainable=_NOT_BACKBONE, label="frozen backbone")], norm_eval
    )


@FREEZE.register("trainable_from")
def trainable_from(stage: str = "-2", norm_eval: bool = True) -> FreezeSchedule:
    """Backbone stem and stages before `stage` frozen for the whole run; that stage onwards trains.

    Args:
        stage: A stage name of the model ("layer3", "stages_2", "blocks.8", "stem" = nothing frozen) or
            its index among the stages, from 0 or from the end if negative (-1: only the last stage).
        norm_eval: Keep BatchNorm layers of the frozen part in eval mode.
    """
    name = _stage_token(stage)
    return FreezeSchedule(
        "trainable_from",
        [
            PhaseSpec(
                trainable=(f"backbone.{name}+", *_NOT_BACKBONE),
                label="from {stage}",
                paths_key=f"{_KEY}.stage",
            )
        ],
        norm_eval,
    )


@FREEZE.register("progressive")
def progressive(
    phases: list | None = None, norm_eval: bool = True, unfreeze_warmup_steps: int = 0
) -> FreezeSchedule:
    """Progressive (un)freezing in phases at given steps or epochs: head → neck → last stage → all.

    Args:
        phases: `[{at_step: int} or {at_epoch: number}, trainable: [group paths] or "all"]`; each phase
            lists what trains from its start on, everything else is frozen, so a phase may freeze again.
            Paths: backbone, aggregator, head, loss, non_backbone (every group but the backbone), backbone.stem,
            backbone.<stage> (or its index, backbone.-1 = last stage), backbone.<stage>+ (that stage and later
            ones), backbone.norm (every norm layer), or an fnmatch pattern over module names (backbone.layer3*,
            neck.*). `aggregator` is nothing on a model without one (segmentation). `loss` trains whenever
            `head` does. None: `DEFAULT_PHASES`.
        norm_eval: Keep BatchNorm layers of frozen parts in eval mode.
        unfreeze_warmup_steps: Linear LR warmup for the param groups a phase unfreezes (0: none).
    """
    if (
        isinstance(unfreeze_warmup_steps, bool)
        or not isinstance(unfreeze_warmup_steps, int)
        or unfreeze_warmup_steps < 0
    ):
        raise ConfigError(
            f"{_KEY}.unfreeze_warmup_steps", f"must be an integer ≥ 0, got {unfreeze_warmup_steps!r}"
        )
    specs = parse_phases(DEFAULT_PHASES if phases is None else phases)
    return FreezeSchedule("progressive", specs, norm_eval, unfreeze_warmup_steps)


def parse_phases(phases: Any, key: str = f"{_KEY}.phases") -> list[PhaseSpec]:
    """Validate user-written phases (types, exactly one start, paths as strings) into specs.

    Raises:
        ConfigError: naming `freeze.phases[i].<field>` and what is allowed.
    """
    if not isinstance(phases, list) or not phases:
        raise ConfigError(
            key,
            f"expected a list of phases like [{{at_step: 0, trainable: [head]}}, "
            f"{{at_epoch: 2, trainable: all}}], got {phases!r}",
        )
    return [_parse_phase(item, f"{key}[{index}]") for index, item in enumerate(phases)]


def _parse_phase(item: Any, where: str) -> PhaseSpec:
    if not isinstance(item, dict):
        raise ConfigError(where, f"expected a mapping with at_step or at_epoch and trainable, got {item!r}")
    check_keys(where, item, ["at_step", "at_epoch", "trainable"])
    if ("at_step" in item) == ("at_epoch" in item):
        raise ConfigError(where, "give exactly one of at_step (an integer) or at_epoch (a number)")
    if "trainable" not in item:
        raise ConfigError(f"{where}.trainable", "missing: a list of group paths, or all")
    paths = _paths(where, item)
    if "at_step" in item:
        at_step = int(_number(f"{where}.at_step", item["at_step"], integer=True))
        return PhaseSpec(at_step=at_step, trainable=paths, where=where)
    at_epoch = _number(f"{where}.at_epoch", item["at_epoch"], integer=False)
    return PhaseSpec(at_step=None, at_epoch=at_epoch, trainable=paths, where=where)


def _number(key: str, value: Any, integer: bool) -> float:
    number = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not number or value < 0:
        raise ConfigError(key, f"expected {'an integer' if integer else 'a number'} ≥ 0, got {value!r}")
    return float(value)


def _paths(where: str, item: dict[str, Any]) -> tuple[str, ...] | Literal["all"]:
    """`all`, one path, or a non-empty list of paths; names are checked later, against the model."""
    value = item["trainable"]
    if value == ALL:
        return ALL
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value or not all(isinstance(p, str) and p.strip() for p in value):
        raise ConfigError(
            f"{where}.trainable",
            f"expected all or a list of group paths (e.g. [head, "
            f"aggregator, backbone.layer4]), got {item['trainable']!r}",
        )
    return tuple(dict.fromkeys(p.strip() for p in value))  # dict keeps the order for labels, drops repeats


def _stage_token(stage: Any) -> str:
    """A stage name, or an index as a string ("-1"); YAML may hand either."""
    if isinstance(stage, bool) or not isinstance(stage, (str, int)) or not str(stage).strip():
        raise ConfigError(
            f"{_KEY}.stage", f"expected a stage name (e.g. layer3) or index (e.g. -1), got {stage!r}"
        )
    return str(stage).strip().removeprefix("backbone.")
