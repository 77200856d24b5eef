"""Applying a freeze phase to a model: requires_grad per parameter, frozen BatchNorms in eval mode, tables."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from torch import nn

from engine.core.freeze.schedule import ALL, FreezeSchedule, Phase
from engine.freeze.stages import (
    ModelPaths,
    backbone_stages,
    group_paths,
    is_pattern,
    match_pattern,
    module_at,
    resolve_paths,
)
from engine.param_counts import parameter_counts, parameter_table


@dataclass(frozen=True)
class _Plan:
    """What a phase means for one model, computed once: the costly part is walking the modules."""

    trainable: frozenset[int]  # ids of trainable parameters
    frozen_norms: tuple[nn.Module, ...]  # BatchNorms outside every trainable path
    groups: dict[str, bool]  # the freeze event's summary


def apply_phase(
    modules: dict[str, nn.Module], phase: Phase, norm_eval: bool | None = None
) -> dict[str, bool]:
    """Make exactly the phase's paths trainable and freeze every other parameter of `modules`.

    The optimizer keeps every parameter: a frozen one gets no grad and is skipped, an unfrozen one
    joins with its group's LR at the next step (fresh optimizer state), so nothing is rebuilt.

    Args:
        modules: Group name -> module, e.g. `task.modules()` (backbone, aggregator, head, loss).
        phase: The phase to apply.
        norm_eval: Put BatchNorms of frozen parts in eval mode (None: `phase.norm_eval`). Trainable ones
            get their mode back from the next `model.train()`.

    Returns:
        `{path: trainable}` for the `freeze` event: one entry per top-level group when the whole group is
        trainable or frozen, else one per backbone stage (trainable only if all of it is).
    """
    plan = _plan(modules, phase)
    for module in modules.values():
        for param in module.parameters():
            param.requires_grad_(id(param) in plan.trainable)
    if phase.norm_eval if norm_eval is None else norm_eval:
        _eval_norms(plan)
    return dict(plan.groups)


def enforce_norm_eval(modules: dict[str, nn.Module], phase: Phase) -> None:
    """Put the phase's frozen BatchNorms back in eval mode; call it right after every `model.train()`.

    Cheap: the list of modules is computed once per phase and model.
    """
    if phase.norm_eval and (phase.trainable != ALL or phase.overrides):
        _eval_norms(_plan(modules, phase))


def phase_table(
    modules: dict[str, nn.Module], schedule: FreezeSchedule, max_steps: int, steps_per_epoch: float
) -> list[dict[str, Any]]:
    """Parameter counts of every phase, for `labconsole check`; the model is left as it was.

    Returns:
        One dict per phase: `index`, `step`, `label`, `in_run`, `rows` (`parameter_table` rows per group
        plus total), `stages` (rows per backbone stage, stem first, then one row per module a pattern of the
        phase matched, named `path (pattern)`) and `matched` (pattern -> the module paths it matched).
    """
    stages = backbone_stages(modules["backbone"]) if "backbone" in modules else {}
    table = []
    with _restored(modules):
        for phase in schedule.phases(max_steps, steps_per_epoch, ModelPaths(modules)):
            apply_phase(modules, phase)
            matched = _pattern_matches(modules, phase.written)
            available = group_paths(modules)
            by_pattern = {
                f"{path} ({pattern})": module_at(modules, available, path)
                for pattern, found in matched.items()
                for path in found
            }
            table.append(
                {
                    "index": phase.index,
                    "step": phase.step,
                    "label": phase.label,
                    "in_run": phase.in_run,
                    "rows": parameter_table(modules),
                    "stages": parameter_table({f"backbone.{k}": v for k, v in stages.items()})[:-1]
                    + parameter_table({k: v for k, v in by_pattern.items() if v is not None})[:-1],
                    "matched": matched,
                }
            )
    return table


def _pattern_matches(modules: dict[str, nn.Module], written: tuple[str, ...]) -> dict[str, list[str]]:
    """Each pattern a phase was written with -> the module paths it matches on this model."""
    return {path: match_pattern(modules, path, "freeze") for path in written if is_pattern(path)}


def parameter_counts_in(modules: dict[str, nn.Module], phase: Phase) -> dict[str, Any]:
    """`parameter_counts` with the parameters trainable as in `phase` (the run's first); the model is left as it was."""
    with _restored(modules):
        apply_phase(modules, phase, norm_eval=False)
        return parameter_counts(modules)


@contextlib.contextmanager
def _restored(modules: dict[str, nn.Module]) -> Iterator[None]:
    """Give every parameter its requires_grad and every module its train/eval mode back on leaving."""
    saved = {id(p): (p, p.requires_grad) for module in modules.values() for p in module.parameters()}
    modes = {m: m.training for module in modules.values() for m in module.modules()}
    try:
        yield
    finally:
        for param, requires_grad in saved.values():
            param.requires_grad_(requires_grad)
        for module, training in modes.items():
            module.training = training


def _eval_norms(plan: _Plan) -> None:
    for norm in plan.frozen_norms:
        norm.train(False)


def _plan(modules: dict[str, nn.Module], phase: Phase) -> _Plan:
    """The phase's plan for this model, cached on the phase (keyed by the group modules' identities)."""
    key = tuple((name, id(module)) for name, module in modules.items())
    if key not in phase.cache:
        phase.cache[key] = _make_plan(modules, phase)
    return phase.cache[key]


def _make_plan(modules: dict[str, nn.Module], phase: Phase) -> _Plan:
    paths = group_paths(modules)
    if phase.trainable == ALL:
        chosen = list(modules.values())
    else:  # already canonical when `phases` had the modules; resolving again is a no-op then
        names = resolve_paths(modules, sorted(phase.trainable), "freeze.trainable")
        found = (module_at(modules, paths, name) for name in names)
        chosen = [module for module in found if module is not None]
    trainable = {id(p) for module in chosen for p in module.parameters()}
    inside = {id(m) for module in chosen for m in module.modules()}
    for path, on in phase.overrides:  # steered mid-run: later overrides win over earlier ones and the phase
        module = module_at(modules, paths, path)
        if module is None:
            continue  # "loss" on a task without a loss module
        params = {id(p) for p in module.parameters()}
        parts = {id(m) for m in module.modules()}
        trainable, inside = (
            (trainable | params, inside | parts) if on else (trainable - params, inside - parts)
        )
    norms = tuple(
        m
        for module in modules.values()
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and id(m) not in inside
    )
    return _Plan(frozenset(trainable), norms, _summary(modules, frozenset(trainable), phase))


def _summary(modules: dict[str, nn.Module], trainable: frozenset[int], phase: Phase) -> dict[str, bool]:
    """Whole groups where uniform; a partly frozen backbone is broken down into its stages."""
    groups: dict[str, bool] = {}
    for name, module in modules.items():
        flags = [id(p) in trainable for p in module.parameters()]
        if not flags:
            continue  # nothing to train or freeze (e.g. an identity head)
        if name == "backbone" and any(flags) and not all(flags):
            groups.update(_stage_summary(module, trainable, phase))
        else:
            groups[name] = all(flags)
    return groups


def _stage_summary(backbone: nn.Module, trainable: frozenset[int], phase: Phase) -> dict[str, bool]:
    groups = {
        f"backbone.{stage}": all(id(p) in trainable for p in part.parameters())
        for stage, part in backbone_stages(backbone).items()
        if any(True for _ in part.parameters())
    }
    if phase.trainable != ALL and "backbone.norm" in phase.trainable:
        groups["backbone.norm"] = True  # stages with trainable norms only would otherwise read "frozen"
    return groups
