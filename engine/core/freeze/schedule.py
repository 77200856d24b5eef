"""Freeze schedules as data: phases (start step, trainable group paths, label) computed without torch."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from engine.core.errors import ConfigError

#: `trainable` value meaning every parameter of every group.
ALL: Literal["all"] = "all"
#: The top-level module groups a VPR task hands over (`VPRTask.modules()`); other tasks may add their own.
GROUPS = ("backbone", "aggregator", "head", "loss")


class PathResolver(Protocol):
    """A model's group paths as the schedule needs them (the engine builds one from the model's modules)."""

    groups: tuple[str, ...]
    """Top-level module groups, in order (backbone, aggregator, head, loss)."""

    def resolve(self, paths: Sequence[str], key: str) -> tuple[str, ...]:
        """Canonical paths for user-written ones; a ConfigError at `key` for an unknown path."""


@dataclass(frozen=True)
class PhaseSpec:
    """One phase as configured, before it is placed on the step axis or resolved against a model.

    Attributes:
        at_step: Start, in completed optimizer steps (exclusive with `at_epoch`).
        at_epoch: Start, in epochs (may be fractional); converted with the run's steps per epoch.
        trainable: Group paths trainable from the start on (everything else frozen), or "all".
        label: A fixed label (the one-phase schedules name themselves; "{stage}" becomes the first backbone
            stage trainable); None computes one from the paths.
        where: Config key of this phase, for error messages.
        paths_key: Config key blamed for an unknown path (default `<where>.trainable`).
    """

    at_step: int | None = 0
    at_epoch: float | None = None
    trainable: tuple[str, ...] | Literal["all"] = ALL
    label: str | None = None
    where: str = "freeze"
    paths_key: str = ""

    def start(self, steps_per_epoch: float) -> int:
        """First step trained under this phase: `at_step`, or the first step after `at_epoch` whole epochs."""
        if self.at_epoch is None:
            return int(self.at_step or 0)
        if steps_per_epoch <= 0:
            raise ValueError(
                f"steps_per_epoch must be > 0 to place {self.where}.at_epoch, got {steps_per_epoch}"
            )
        return math.ceil(self.at_epoch * steps_per_epoch - 1e-9)  # tolerance for float error (0.1 × 30)


@dataclass(eq=False)
class Phase:
    """A stretch of the run with one set of trainable parameters.

    Attributes:
        index: Position in the schedule, 0 first.
        step: First step trained under this phase (completed optimizer steps when it is applied).
        trainable: Trainable group paths ("backbone.layer4", "head", ...) or "all"; anything else is frozen.
        label: Short description for events and tables: "head+aggregator", "+layer4", "all".
        norm_eval: Keep BatchNorm layers of frozen parts in eval mode (running statistics fixed).
        warmup_steps: LR warmup length for `warmup_groups` from `step` on (0: none).
        warmup_groups: Optimizer param groups (top-level module groups) that gain trainable parameters here.
        in_run: Whether the phase starts before `max_steps` (phase 0 always does).
        overrides: Paths steered mid-run, `(path, trainable)` in the order set; they win over `trainable`.
        written: The paths as the config wrote them (patterns such as `backbone.layer3*` before matching).
    """

    index: int
    step: int
    trainable: set[str] | Literal["all"]
    label: str
    norm_eval: bool = True
    warmup_steps: int = 0
    warmup_groups: tuple[str, ...] = ()
    in_run: bool = True
    overrides: tuple[tuple[str, bool], ...] = ()
    written: tuple[str, ...] = ()
    # What apply_phase derives from a model for this phase (trainable params, frozen BatchNorms), per model.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def event(self, groups: dict[str, bool]) -> dict[str, Any]:
        """Fields of the `freeze` event: `events.emit("freeze", step=phase.step, **phase.event(groups))`."""
        fields = {
            "phase": self.label,
            "index": self.index,
            "groups": groups,
            "warmup_steps": self.warmup_steps,
            "warmup_groups": list(self.warmup_groups),
        }
        if self.overrides:
            fields["steered"] = {
                path: "trainable" if trainable else "frozen" for path, trainable in self.overrides
            }
        return fields

    def steered(self, overrides: dict[str, bool]) -> Phase:
        """This phase with mid-run overrides on top, or itself if none.

        A warmup the phase started goes on; groups unfrozen by hand get none (the user chose the moment).
        BatchNorms of frozen parts go to eval mode even under a schedule without `norm_eval` (`none`): a group
        frozen by hand is expected to stop changing, running statistics included.
        """
        if not overrides:
            return self
        marks = " ".join(
            f"{'+' if trainable else '-'}{_short(path)}" for path, trainable in overrides.items()
        )
        return Phase(
            self.index,
            self.step,
            self.trainable,
            f"{self.label} · steered {marks}",
            True,
            self.warmup_steps,
            self.warmup_groups,
            self.in_run,
            tuple(overrides.items()),
            self.written,
        )


class FreezeSchedule:
    """Which parameters train when: an ordered list of phase specs plus the options shared by all phases.

    Phases that do not start at step 0 are preceded by an implicit phase 0 with everything trainable,
    the state of a run without a schedule; so `[{at_epoch: 44, trainable: [aggregator, head]}]` is the
    logs' "froze the backbone at epoch 44".

    Attributes:
        name: Registry entry that built it.
        specs: The configured phases, in config order.
        norm_eval: Keep BatchNorm layers of frozen parts in eval mode.
        warmup_steps: LR warmup for groups that gain trainable parameters at a phase (0: none).
    """

    def __init__(
        self, name: str, specs: Sequence[PhaseSpec], norm_eval: bool = True, warmup_steps: int = 0
    ) -> None:
        self.name = name
        self.specs = list(specs)
        self.norm_eval = norm_eval
        self.warmup_steps = warmup_steps

    def phases(
        self, max_steps: int, steps_per_epoch: float, model: PathResolver | None = None
    ) -> list[Phase]:
        """The phases on the step axis, sorted by start, the first at step 0.

        Args:
            max_steps: Run length; phases starting at or after it get `in_run = False`.
            steps_per_epoch: Optimizer steps per epoch, to place `at_epoch` phases.
            model: The model's paths (the engine's `ModelPaths`); when given, paths are checked against it and
                resolved (stage indices and "layer3+" ranges become stage names), so labels name real stages.

        Raises:
            ConfigError: two phases starting at the same step, or (with `model`) an unknown group path.
        """
        placed = sorted(
            ((spec.start(steps_per_epoch), spec) for spec in self.specs), key=lambda item: item[0]
        )
        _check_distinct(placed)
        if not placed or placed[0][0] != 0:
            placed.insert(0, (0, PhaseSpec(label=ALL)))
        groups = model.groups if model is not None else GROUPS
        phases: list[Phase] = []
        previous: tuple[str, ...] | str | None = None
        for index, (step, spec) in enumerate(placed):
            paths = _resolve(spec, model)
            gained = () if previous is None else _gained_groups(previous, paths, groups)
            label = (
                _fixed_label(spec.label, paths) or _written_label(spec.trainable) or _label(previous, paths)
            )
            phases.append(
                Phase(
                    index,
                    step,
                    _with_implied(paths),
                    label,
                    self.norm_eval,
                    self.warmup_steps,
                    gained,
                    in_run=index == 0 or step < max_steps,
                    written=() if spec.trainable == ALL else tuple(spec.trainable),
                )
            )
            previous = paths
        return phases


FREEZE_HINT = "freeze.<group>=on|off|schedule"
"""How `set` keys for freezing read in lists of settable keys (group: backbone, head, backbone.layer4, backbone.-1, …)."""


def steered_value(key: str, value: Any) -> bool | None:
    """What `set freeze.<path>=value` asks for: False frozen, True trainable, None back to the schedule.

    Raises:
        ConfigError: at `key`, listing the accepted values.
    """
    text = str(value).strip().lower()
    if value is True or text in _FROZEN_WORDS:
        return False
    if value is False or text in _TRAINABLE_WORDS:
        return True
    if text in _SCHEDULE_WORDS:
        return None
    raise ConfigError(
        key, f"expected on (freeze), off (unfreeze) or schedule (undo the override), got {value!r}"
    )


_FROZEN_WORDS = ("on", "true", "yes", "1", "frozen", "freeze")
_TRAINABLE_WORDS = ("off", "false", "no", "0", "trainable", "unfreeze", "train")
_SCHEDULE_WORDS = ("schedule", "auto", "default")


def phase_at(phases: Sequence[Phase], step: int) -> Phase:
    """The phase in force for the step trained after `step` completed steps (e.g. after a resume)."""
    current = phases[0]
    for phase in phases:
        if phase.step <= step:
            current = phase
    return current


def warmup_factors(phase: Phase, step: int) -> dict[str, float]:
    """LR multipliers for param groups still warming up after being unfrozen at `phase`; {} once done.

    The ramp matches the schedules' linear warmup: (k + 1) / (n + 1) at the k-th step of the phase.
    """
    done = step - phase.step
    if not phase.warmup_steps or done >= phase.warmup_steps or done < 0:
        return {}
    return {group: (done + 1) / (phase.warmup_steps + 1) for group in phase.warmup_groups}


def _check_distinct(placed: list[tuple[int, PhaseSpec]]) -> None:
    for (step, first), (other, second) in itertools.pairwise(placed):
        if step == other:
            raise ConfigError(
                second.where, f"starts at step {step}, as {first.where} does; one phase per step"
            )


def _resolve(spec: PhaseSpec, model: PathResolver | None) -> tuple[str, ...] | str:
    """Resolve a spec's paths against the model when there is one."""
    if spec.trainable == ALL or model is None:
        return spec.trainable
    return model.resolve(spec.trainable, spec.paths_key or f"{spec.where}.trainable")


def _with_implied(paths: tuple[str, ...] | str) -> set[str] | Literal["all"]:
    """A margin loss's class weights (`loss`) are the head's classifier: they train whenever the head does."""
    if paths == ALL:
        return ALL
    found = set(paths)
    return found | {"loss"} if "head" in found else found


def _short(path: str) -> str:
    """ "layer4" for "backbone.layer4"; "stage -1" for an index not resolved against a model."""
    name = path.removeprefix("backbone.")
    return f"stage {name}" if name.rstrip("+").lstrip("-").isdigit() else name


def _fixed_label(label: str | None, paths: tuple[str, ...] | str) -> str | None:
    """A spec's own label, "{stage}" filled with the first backbone stage (its index when unresolved)."""
    if label is None or "{stage}" not in label:
        return label
    first = next((_short(p).rstrip("+") for p in paths if p.startswith("backbone.")), "?")
    return label.format(stage=first)


def _written_label(written: tuple[str, ...] | str) -> str | None:
    """A phase written with patterns is labelled as written ("backbone.layer4*+head"): the matches may be many."""
    if written == ALL or not any(set("*?[") & set(path) for path in written):
        return None
    return "+".join(_short(p) for p in written)


def _label(previous: tuple[str, ...] | str | None, paths: tuple[str, ...] | str) -> str:
    """ "all"; "+layer4" when the phase only adds paths to the previous one; else its paths joined."""
    if paths == ALL:
        return ALL
    if previous is not None and previous != ALL and set(previous) < set(paths):
        return "".join(f"+{_short(p)}" for p in paths if p not in previous)
    return "+".join(_short(p) for p in paths) or "all frozen"


def _covered(path: str, previous: set[str] | str) -> bool:
    """Whether `path` was already trainable: listed before, or inside a path listed before."""
    return previous == ALL or any(path == p or path.startswith(f"{p}.") for p in previous)


def _gained_groups(
    previous: tuple[str, ...] | str, paths: tuple[str, ...] | str, groups: tuple[str, ...]
) -> tuple[str, ...]:
    """Top-level groups (= optimizer param groups) that gain trainable parameters at this phase."""
    before = _with_implied(previous)
    candidates = groups if paths == ALL else sorted(_with_implied(paths))
    gained = {p.split(".")[0] for p in candidates if not _covered(p, before)}
    return tuple(g for g in groups if g in gained)
