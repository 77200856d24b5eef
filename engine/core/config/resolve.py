"""Compose a run config: load YAML, expand presets, apply overrides, validate, fill defaults and derived values."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from engine.core.config.aux_weights import AUX_WEIGHTS_KEY, resolve_aux_weights
from engine.core.config.derive import finish
from engine.core.config.overrides import apply_overrides, parse_override
from engine.core.config.presets import (
    PRESET_META_KEYS,
    has_preset,
    list_presets,
    load_preset,
    load_yaml_file,
    preset_path,
)
from engine.core.config.recipes import (
    REAL_SUFFIX,
    RECIPE_KEY,
    RECIPES_SLOT,
    list_recipes,
    load_recipe,
    mark_run_config,
    names_recipe,
    recipe_from,
    split_variant,
)
from engine.core.config.schema import TYPED_SECTIONS, ModelConfig, defaults_of
from engine.core.config.user_classes import is_user_class, split_user_class
from engine.core.config.validate import check_keys, check_tree, check_typed, coerce
from engine.core.errors import ConfigError, UserError, shown, shown_path

#: Sections whose keys come from a preset file: dotted path -> (preset slot, default preset).
PRESET_SECTIONS: dict[str, tuple[str, str]] = {
    "task": ("task", "vpr"),
    "model.backbone": ("backbone", "resnet18"),
    "model.aggregator": ("aggregator", "gem"),
    "model.head": ("head", "linear"),
    "loss": ("loss", "multi_similarity"),
    "schedule": ("schedule", "constant"),
    "freeze": ("freeze", "none"),
    "augment": ("augment", "none"),
}
TOP_LEVEL_KEYS = [
    "name",
    "description",
    "tags",
    "task",
    "data",
    "model",
    "loss",
    "optim",
    "schedule",
    "freeze",
    "augment",
    "device",
    "train",
    "eval",
    "checkpoint",
]
MODEL_KEYS = ["backbone", "aggregator", "head", "descriptor_dim", "image_size"]


def is_preset_section(parts: list[str]) -> bool:
    """Whether a dotted path names a preset section (or a typed section, which may also be a preset name)."""
    dotted = ".".join(parts)
    return dotted in PRESET_SECTIONS or dotted in TYPED_SECTIONS


def load_source(source: str | os.PathLike | dict) -> tuple[dict[str, Any], str]:
    """The raw config and a default run name: from a mapping, a YAML file, a run preset's name, or a recipe's
    (`NAME`, or `NAME@real` for its real-data version: its `real:` overrides applied).

    Either is checked with `check_tree` before anything else walks it (plain data, finite numbers, bounded
    depth and size). A recipe's `recipe:` block is dropped (it is metadata, not a section) and the config is
    tagged with the recipe and its log.
    """
    if isinstance(source, dict):
        check_tree(source)  # before deepcopy, which a deep or alias-shared tree would overwhelm
        raw = copy.deepcopy(source)
        default_name = str(raw.get("name") or "run")
        if RECIPE_KEY in raw:
            raw = mark_run_config(raw, recipe_from(raw, default_name, Path("<config>")), False)
        raw.pop(RECIPE_KEY, None)
        return raw, default_name
    path = Path(source)
    if not _is_readable_file(path):
        if has_preset("runs", str(source)):
            path = preset_path("runs", str(source))
        elif isinstance(source, str) and (names_recipe(source) or source.endswith(REAL_SUFFIX)):
            return recipe_source(source)
    if not _is_readable_file(path):
        raise UserError(
            f"config file not found: {shown_path(source)} "
            f"(or name a run preset: {', '.join(list_presets('runs'))}; "
            f"or a recipe: {', '.join(list_recipes()) or 'none'})"
        )
    raw = load_yaml_file(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a run config must be a YAML mapping of sections")
    if RECIPE_KEY in raw:  # a recipe file given by its path: its small variant
        # a copy elsewhere (a composed run's file) is still the recipe its name says
        name = path.stem if path.parent.name == RECIPES_SLOT else str(raw.get("name") or path.stem)
        recipe = recipe_from(raw, name, path)
        raw = mark_run_config(recipe.config, recipe, False)
    return raw, path.stem


def recipe_source(source: str) -> tuple[dict[str, Any], str]:
    """A recipe's run config (`NAME@real`: with its real-data overrides) and its default run name."""
    name, real = split_variant(source)
    if real and not has_preset(RECIPES_SLOT, name) and has_preset("runs", name):
        raise UserError(
            f"'{name}' is a run preset, not a recipe: only recipes have a real-data version "
            f"(NAME{REAL_SUFFIX}); recipes: {', '.join(list_recipes()) or 'none'}"
        )
    recipe = load_recipe(name)
    raw = copy.deepcopy(recipe.config)
    if real:
        raw = apply_overrides(raw, order_overrides(recipe.real), is_preset_section)
    raw = mark_run_config(raw, recipe, real)
    return raw, str(raw.get("name") or recipe.name)


def _real_data_hint(source: Any, error: ConfigError) -> str:
    """For a missing data folder of a recipe's real-data version: what that version needs, how to point at it."""
    if not isinstance(source, str) or not source.endswith(REAL_SUFFIX):
        return ""
    if error.key not in ("data.root", "data.format") and "not found" not in error.message:
        return ""
    name, _ = split_variant(source)
    if not has_preset(RECIPES_SLOT, name):
        return ""
    return f"recipe {source} needs {load_recipe(name).real_data} (labconsole run {source} data.root=DIR)"


def _is_readable_file(path: Path) -> bool:
    """Whether `path` is a file; a name the system cannot look up (too long, a NUL byte) is a UserError."""
    try:
        return path.is_file()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UserError(f"cannot read config file {shown_path(path)}: {reason}") from None


def resolve_preset_section(
    key: str, value: Any, slot_default: tuple[str, str] | None = None
) -> dict[str, Any]:
    """Expand a preset section: a preset name, or a mapping naming a preset (or an entry) and overriding keys."""
    slot, default = slot_default or PRESET_SECTIONS[key]
    value = default if value is None else value
    if isinstance(value, str):
        value = {"preset": value}
    if not isinstance(value, dict):
        raise ConfigError(
            key,
            f"expected a preset name or a mapping, got {shown(value)}; presets: {', '.join(list_presets(slot))}",
        )
    given = dict(value)
    if key == "model.backbone" and is_user_class(given.get("name", given.get("preset"))):
        return _user_class_section(key, given)
    aux = (
        resolve_aux_weights(f"{key}.{AUX_WEIGHTS_KEY}", given.pop(AUX_WEIGHTS_KEY, None))
        if key == "loss"
        else {}
    )
    preset = given.pop("preset", None)
    if preset is None:
        name = given.get("name", default)
        preset = name if has_preset(slot, name) else "default" if has_preset(slot, "default") else name
    base = load_preset(slot, preset, key if "name" in given else f"{key}.preset")
    for meta in PRESET_META_KEYS:
        base.pop(meta, None)
    base.setdefault("name", preset)
    check_keys(key, given, list(base))
    for name, item in given.items():
        base[name] = coerce(f"{key}.{name}", item, base[name])
    if slot == "loss" and "components" in base:
        base["components"] = resolve_loss_components(key, base["components"])
    if aux:
        base[AUX_WEIGHTS_KEY] = aux
    return {"preset": preset, **base}


def _user_class_section(key: str, given: dict[str, Any]) -> dict[str, Any]:
    """A section naming a user class (`module:Class`): its other keys are the class's keyword arguments, which
    only the class knows (the engine checks them when it builds it)."""
    name = given.pop("name", None) or given.pop("preset")
    given.pop("preset", None)
    split_user_class(f"{key}.name", name)
    for arg in given:
        if not isinstance(arg, str) or not arg.isidentifier():
            raise ConfigError(f"{key}.{arg}", "a keyword argument name is letters, digits and '_'")
    return {"preset": name, "name": name, **given}


def resolve_loss_components(key: str, components: Any) -> list[dict[str, Any]]:
    """A loss mix: each component is a loss preset (name or mapping) plus a `weight` (default 1)."""
    if not isinstance(components, list) or not components:
        raise ConfigError(
            f"{key}.components", "expected a list of losses, e.g. [{preset: cosface, weight: 0.7}, ...]"
        )
    resolved = []
    for index, item in enumerate(components):
        where = f"{key}.components[{index}]"
        item = {"preset": item} if isinstance(item, str) else dict(item) if isinstance(item, dict) else item
        if not isinstance(item, dict):
            raise ConfigError(where, f"expected a loss preset name or mapping, got {shown(item)}")
        weight = coerce(f"{where}.weight", item.pop("weight", 1.0), 1.0)
        if weight < 0:
            raise ConfigError(f"{where}.weight", f"must be ≥ 0, got {weight}")
        component = resolve_preset_section(where, item, ("loss", "multi_similarity"))
        if "components" in component:
            raise ConfigError(where, "a loss mix cannot contain another mix")
        resolved.append({**component, "weight": weight})
    return resolved


def resolve_typed_section(key: str, schema: type, value: Any) -> dict[str, Any]:
    """Fill a typed section from its defaults, an optional preset, and the given keys; then validate it."""
    resolved = defaults_of(schema)
    if isinstance(value, str):
        value = {"preset": value}
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected a mapping or a preset name, got {shown(value)}")
    given = dict(value)
    preset = given.pop("preset", None)
    if preset is not None:
        layer = load_preset(key, preset, f"{key}.preset")
        layer = {k: v for k, v in layer.items() if k not in PRESET_META_KEYS}
        check_keys(key, layer, list(resolved))
        resolved.update(layer)
    check_keys(key, given, list(resolved))
    resolved.update(given)
    return check_typed(key, schema, resolved)


def resolve_model(value: Any) -> dict[str, Any]:
    """The model section: three preset sections plus the typed model-level keys."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError("model", f"expected a mapping with {', '.join(MODEL_KEYS)}")
    check_keys("model", value, MODEL_KEYS)
    out = {
        part: resolve_preset_section(f"model.{part}", value.get(part))
        for part in ("backbone", "aggregator", "head")
    }
    scalars = {k: v for k, v in value.items() if k in ("descriptor_dim", "image_size")}
    out.update(resolve_typed_section("model", ModelConfig, scalars))
    return out


def order_overrides(items: list[str] | tuple[str, ...]) -> list[str]:
    """Overrides choosing a section's preset/name go first, so the section's other overrides survive them."""

    def restarts(item: str) -> bool:
        parts, _ = parse_override(item)
        return parts[-1] in ("name", "preset") and is_preset_section(parts[:-1])

    return sorted(items, key=lambda item: not restarts(item))


def resolve_config(
    source: str | os.PathLike | dict, overrides: list[str] | tuple[str, ...] = (), check_paths: bool = True
) -> dict[str, Any]:
    """Return the fully resolved config; any mistake raises ConfigError/UserError naming the key."""
    raw, default_name = load_source(source)
    try:
        return _resolve(raw, default_name, overrides, check_paths)
    except ConfigError as exc:
        hint = _real_data_hint(source, exc)
        if hint:
            # the synthetic-data advice of a missing folder does not apply to a real-data version
            message = exc.message.split(" (set data.synthetic")[0]
            raise ConfigError(exc.key, f"{message}; {hint}") from None
        raise


def _resolve(
    raw: dict[str, Any], default_name: str, overrides: list[str] | tuple[str, ...], check_paths: bool
) -> dict[str, Any]:
    """The resolved config of a loaded raw config and the command line's overrides."""
    raw = apply_overrides(raw, order_overrides(overrides), is_preset_section)
    check_keys("", raw, TOP_LEVEL_KEYS)
    cfg: dict[str, Any] = {
        "name": str(raw.get("name") or default_name),
        "description": str(raw.get("description") or ""),
        "tags": _tags(raw.get("tags")),
        "task": resolve_preset_section("task", raw.get("task")),
        "data": resolve_typed_section("data", TYPED_SECTIONS["data"], raw.get("data")),
        "model": resolve_model(raw.get("model")),
    }
    for key in ("loss", "optim", "schedule", "freeze", "augment", "device", "train", "eval", "checkpoint"):
        if key in PRESET_SECTIONS:
            cfg[key] = resolve_preset_section(key, raw.get(key))
        else:
            cfg[key] = resolve_typed_section(key, TYPED_SECTIONS[key], raw.get(key))
    cfg = finish(cfg, check_paths)
    check_tree(cfg)  # derived values too: what the engine is handed is finite and plain
    return cfg


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(t, (str, int, float)) for t in value):
        raise ConfigError("tags", f"expected a list of words, got {shown(value)}")
    return [str(t) for t in value]
