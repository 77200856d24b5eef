"""Models that report more than a loss: auxiliary losses and scalars per step, metrics and figures per evaluation.

Any module inside a model may implement any of these (duck-typed, found by walking `model.modules()`):

- `auxiliary() -> {"losses": {name: Tensor}, "scalars": {name: Tensor}}` about its last forward. The task adds
  each loss × `loss.aux_weights.<name>` (default 1.0) to the total and logs it (weighted) as `loss/<name>`;
  scalars are logged under the name given, which names their chart group (`routing/entropy`).
- `begin_evaluation()` before a test set's pass, `end_evaluation() -> {name: float}` after it: the values join
  that set's metrics, after the task's own.
- `evaluation_figures(split) -> list[Figure]`: figures of the pass just ended (drawn when eval.figures is on).

Several modules reporting the same name add their losses and average their scalars (each stage of a routed
model may report its own `load_balance`: the model's is their sum).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from engine.core.config.aux_weights import AUX_WEIGHTS_KEY
from engine.figures import Figure

RESERVED_SCALARS = ("loss/", "lr/")
"""Scalar name prefixes the trainer owns: an auxiliary scalar there would be read as a loss part or an LR."""


def aux_weights(loss_cfg: Mapping[str, Any]) -> dict[str, float]:
    """`loss.aux_weights` of a resolved config (validated by the config): aux loss name -> weight."""
    return {str(k): float(v) for k, v in (loss_cfg.get(AUX_WEIGHTS_KEY) or {}).items()}


def _reporting(model: nn.Module, method: str) -> list[Any]:
    """The methods named `method` of every module of `model` that has one, in module order."""
    return [getattr(m, method) for m in model.modules() if callable(getattr(m, method, None))]


def collect_auxiliary(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(losses, scalars) every module reported about the last forward; same names summed (losses) or averaged
    (scalars)."""
    losses: dict[str, torch.Tensor] = {}
    scalars: dict[str, list[torch.Tensor]] = {}
    for report in _reporting(model, "auxiliary"):
        found = report() or {}
        for name, value in (found.get("losses") or {}).items():
            value = value.float()
            losses[name] = losses[name] + value if name in losses else value
        for name, value in (found.get("scalars") or {}).items():
            if name.startswith(RESERVED_SCALARS) or name == "grad_norm":
                raise ValueError(
                    f"auxiliary scalar '{name}' of {type(report.__self__).__name__} takes a name the trainer "
                    f"logs itself ({', '.join(RESERVED_SCALARS)}, grad_norm): report it as a loss or rename it"
                )
            scalars.setdefault(name, []).append(torch.as_tensor(value).detach().float())
    return losses, {name: torch.stack(values).mean() for name, values in scalars.items()}


def with_auxiliary(
    model: nn.Module, total: torch.Tensor, parts: dict[str, torch.Tensor], weights: Mapping[str, float]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The total loss plus every weighted auxiliary loss, and the logged parts plus theirs and the scalars.

    `parts` are the task's own logged parts (`loss/<name>`); an auxiliary loss whose name is already taken
    (`total`, the main loss's) is logged as `loss/aux_<name>`.
    """
    losses, scalars = collect_auxiliary(model)
    parts = dict(parts)
    for name, value in losses.items():
        weighted = value * weights.get(name, 1.0)
        total = total + weighted
        key = f"loss/{name}"
        if key in parts or name == "total":
            key = f"loss/aux_{name}"
        parts[key] = weighted.detach()
    parts.update(scalars)
    return total, parts


def begin_evaluation(model: nn.Module) -> None:
    """Tell every reporting module a test set's pass begins."""
    for begin in _reporting(model, "begin_evaluation"):
        begin()


def end_evaluation(model: nn.Module) -> dict[str, float]:
    """The metrics every reporting module measured over the pass just ended (same names averaged); NaN and
    infinities are left out (an evaluation event holds finite numbers)."""
    values: dict[str, list[float]] = {}
    for end in _reporting(model, "end_evaluation"):
        for name, value in (end() or {}).items():
            values.setdefault(str(name), []).append(float(value))
    means = {name: sum(found) / len(found) for name, found in values.items()}
    return {name: value for name, value in means.items() if math.isfinite(value)}


def with_measured(metrics: dict[str, float], measured: Mapping[str, float]) -> dict[str, float]:
    """A test set's metrics followed by the modules' measurements (a task's own metric keeps its name)."""
    return {**metrics, **{name: value for name, value in measured.items() if name not in metrics}}


def evaluation_figures(model: nn.Module, split: str) -> list[Figure]:
    """The figures every reporting module drew of the pass on `split`."""
    return [figure for draw in _reporting(model, "evaluation_figures") for figure in draw(split) or []]


def prepare_modules(model: nn.Module, sample_images: Callable[[], torch.Tensor]) -> None:
    """Hand `sample_images()` (read only when some module asks) to every module of `model` with a
    `prepare(sample_images)` hook (PCE's k-means router keys)."""
    hooks = _reporting(model, "prepare")
    if not hooks:
        return
    sample = sample_images()
    for hook in hooks:
        hook(sample)
