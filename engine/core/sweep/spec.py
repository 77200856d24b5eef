"""What a sweep asks for, from the command line, a sweep YAML file, or a recipe's `sweep:` block.

Sweep YAML: `{config: NAME_OR_PATH, name: str, mode: grid|zip, parallel: int, overrides: [key=value],
axes: {dotted.key: [v1, v2, ...]}, baseline: {dotted.key: value}}`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.config.overrides import parse_override, parse_value
from engine.core.config.presets import load_yaml_file
from engine.core.config.resolve import load_source
from engine.core.errors import UserError, shown
from engine.core.sweep.axes import MODES, Axes, Point, parse_assignments, points_of, value_text

SWEEP_KEYS = ("config", "name", "mode", "parallel", "overrides", "axes", "baseline")


@dataclass
class SweepSpec:
    """A sweep before it is queued."""

    config: str
    """A run preset or recipe name, or a YAML file's absolute path."""
    name: str
    axes: Axes
    mode: str = "grid"
    parallel: int = 1
    overrides: list[str] = field(default_factory=list)
    """key=value applied to every point (before the point's own values)."""
    baseline: int | dict[str, str] = 0
    """The baseline row: a point index, or the varied values that pick it."""

    def points(self) -> list[Point]:
        return points_of(self.axes, self.mode)

    def baseline_index(self, points: Sequence[Point]) -> int:
        """The baseline as a point index (one line naming the mistake when it names no point)."""
        if isinstance(self.baseline, int):
            if not 0 <= self.baseline < len(points):
                raise UserError(f"--baseline {self.baseline}: the sweep's points are 0 to {len(points) - 1}")
            return self.baseline
        for index, point in enumerate(points):
            if all(_same(point.get(key), value) for key, value in self.baseline.items()):
                return index
        wanted = " ".join(f"{k}={v}" for k, v in self.baseline.items())
        raise UserError(f"sweep baseline {wanted}: no point of the sweep has these values")


def _same(written: str | None, wanted: str) -> bool:
    """Whether two values as written mean the same (1e-3 and 0.001 do)."""
    if written is None:
        return False
    return written == wanted or parse_value(written) == parse_value(wanted)


def is_sweep_file(config: str) -> bool:
    """Whether CONFIG names a sweep YAML file (a mapping with `axes`) rather than a run config or recipe."""
    path = Path(config)
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        return False
    raw = load_yaml_file(path, "sweep file")
    return isinstance(raw, dict) and "axes" in raw and "task" not in raw


def spec_from_command_line(
    config: str,
    assignments: Sequence[str],
    *,
    zip_mode: bool = False,
    parallel: int | None = None,
    name: str | None = None,
    baseline: int | None = None,
) -> SweepSpec:
    """`labconsole sweep CONFIG key=a,b other=x ...`: CONFIG a run config, a recipe, or a sweep YAML file.

    Keys given several values are axes (they replace a file's axis of the same key); keys given one value are
    overrides of every point. A recipe's `sweep:` block is its sweep when the command line gives no axis.
    """
    axes, fixed = parse_assignments(assignments)
    if is_sweep_file(config):
        spec = spec_from_mapping(load_yaml_file(Path(config), "sweep file"), f"{config}", Path(config).parent)
    else:
        spec = _spec_of_run_config(config, bool(axes))
    spec.axes.update(axes)
    spec.overrides = [*spec.overrides, *fixed]
    if zip_mode:
        spec.mode = "zip"
    if parallel is not None:
        spec.parallel = parallel
    if name:
        spec.name = name
    if baseline is not None:
        spec.baseline = baseline
    if spec.parallel < 1:
        raise UserError(f"--parallel {spec.parallel}: runs at a time must be 1 or more")
    return spec


def _spec_of_run_config(config: str, has_axes: bool) -> SweepSpec:
    _, default_name = load_source(config)  # a bad CONFIG is one line here, before anything else
    block = None if has_axes else recipe_sweep(config)
    if block is not None:
        return spec_from_mapping(block, f"recipe {config}: sweep", None)
    return SweepSpec(config=_absolute(config), name=f"{default_name}-sweep", axes={})


def recipe_sweep(config: str) -> dict[str, Any] | None:
    """The `sweep:` block of the recipe CONFIG names (its `config` the recipe), None for anything else."""
    try:  # the recipes' reader (engine.core.config.recipes) owns their format; sweeps only ask it
        from engine.core.config.recipes import names_recipe, recipe_info
    except ImportError:
        return None
    if Path(config).is_file() or not names_recipe(config):
        return None
    sweep = recipe_info(config).get("sweep")
    return sweep if isinstance(sweep, dict) else None


def _absolute(config: str) -> str:
    """A config file's absolute path (the queue may run elsewhere), or a preset or recipe name as given."""
    path = Path(config)
    return str(path.resolve()) if path.is_file() else config


def spec_from_mapping(raw: Any, where: str, folder: Path | None) -> SweepSpec:
    """A sweep YAML mapping (a file's, or a recipe's `sweep:` block) as a SweepSpec."""
    if not isinstance(raw, Mapping):
        raise UserError(f"{where}: a sweep must be a mapping with {', '.join(SWEEP_KEYS)}")
    unknown = [k for k in raw if k not in SWEEP_KEYS]
    if unknown:
        raise UserError(f"{where}: unknown key {shown(unknown[0])}; a sweep has {', '.join(SWEEP_KEYS)}")
    config = raw.get("config")
    if not isinstance(config, str) or not config:
        raise UserError(f"{where}: config: name a run preset, a recipe or a config file")
    if folder is not None and not os.path.isabs(config) and (folder / config).is_file():
        config = str((folder / config).resolve())
    mode = raw.get("mode", "grid")
    if mode not in MODES:
        raise UserError(f"{where}: mode: {shown(mode)} is not known; use one of {', '.join(MODES)}")
    parallel = raw.get("parallel", 1)
    if not isinstance(parallel, int) or isinstance(parallel, bool) or parallel < 1:
        raise UserError(f"{where}: parallel: expected a whole number ≥ 1, got {shown(parallel)}")
    return SweepSpec(
        config=_absolute(config),
        name=str(raw.get("name") or f"{Path(config).stem}-sweep"),
        axes=_axes(raw.get("axes"), where),
        mode=str(mode),
        parallel=parallel,
        overrides=_overrides(raw.get("overrides"), where),
        baseline=_baseline(raw.get("baseline"), where),
    )


def _axes(value: Any, where: str) -> Axes:
    if not isinstance(value, Mapping) or not value:
        raise UserError(f"{where}: axes: expected {{dotted.key: [v1, v2, ...]}} with at least one key")
    axes: Axes = {}
    for key, values in value.items():
        if not isinstance(values, list) or not values:
            raise UserError(f"{where}: axes.{key}: expected a list of values, got {shown(values)}")
        texts = [value_text(v) for v in values]
        for text in texts:
            parse_override(f"{key}={text}")  # the key's shape and the value's syntax, as `run` reads them
        axes[str(key)] = texts
    return axes


def _overrides(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and "=" in v for v in value):
        raise UserError(f"{where}: overrides: expected a list of key=value, got {shown(value)}")
    return list(value)


def _baseline(value: Any, where: str) -> int | dict[str, str]:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, Mapping):
        raise UserError(
            f"{where}: baseline: expected {{dotted.key: value}} or a point index, got {shown(value)}"
        )
    return {str(k): value_text(v) for k, v in value.items()}
