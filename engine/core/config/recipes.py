"""Recipes: the experiment logs as ready runs, `presets/recipes/<name>.yaml`.

A recipe is a whole run config (its small variant, on the embedded synthetic data, learning on 2 CPU cores in
minutes) plus a `recipe:` block that is metadata, not a config section:

    recipe:
      log: "000"                       # the experiment log it reproduces (../shared/experiment-logs/)
      reproduces: text                 # what the log found, in one line
      real_data: text                  # what the real-data version needs (data folder, weights file)
      real: [key=value, ...]           # overrides that make the real-data version
      sweep: {...}                     # optional: the log's study, in the sweep-YAML format
      real_sweep: {...}                # optional: sweep keys that replace the small ones in the real version

`NAME` names the small variant and `NAME@real` the real-data one (its `real:` overrides applied; the user's
own overrides, such as `data.root=/data/x`, come after them). The block is dropped before validation; the
resolved config keeps the recipe in its tags (`recipe:NAME`, `log:000`) and description.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core.config.overrides import parse_override
from engine.core.config.presets import has_preset, list_presets, load_yaml_file, preset_path
from engine.core.errors import UserError, shown, shown_path, unknown_choice

RECIPES_SLOT = "recipes"
"""The presets folder holding recipes: `presets/recipes/`."""
RECIPE_KEY = "recipe"
"""The top-level key of a recipe file that holds its metadata."""
REAL_SUFFIX = "@real"
"""Appended to a recipe's name, it names the real-data version: `vpr_model_selection@real`."""
SWEEP_KEYS = ("config", "name", "mode", "parallel", "overrides", "axes", "baseline")
"""The keys of a sweep YAML (and of a recipe's `sweep:` block)."""
_TEXT_KEYS = ("log", "reproduces", "real_data")
_RECIPE_KEYS = (*_TEXT_KEYS, "real", "sweep", "real_sweep")


@dataclass(frozen=True)
class Recipe:
    """One recipe file, read and checked."""

    name: str
    path: Path
    config: dict[str, Any]
    """The run config of the small variant, without the `recipe:` block."""
    log: str
    reproduces: str
    real_data: str
    real: tuple[str, ...]
    """key=value overrides that make the real-data version."""
    sweep: dict[str, Any] | None
    real_sweep: dict[str, Any] | None

    def sweep_for(self, real: bool) -> dict[str, Any] | None:
        """The sweep of the small or the real variant (its `config` the variant's name), or None."""
        if self.sweep is None:
            return None
        sweep = copy.deepcopy(self.sweep)
        if real and self.real_sweep:
            sweep.update(copy.deepcopy(self.real_sweep))
        sweep.setdefault("config", self.name + (REAL_SUFFIX if real else ""))
        return sweep

    def tags(self, real: bool) -> list[str]:
        """The tags a run of this recipe carries besides its config's own."""
        return [f"recipe:{self.name}", f"log:{self.log}", *(["real-data"] if real else [])]


def list_recipes() -> list[str]:
    """The recipe names (shipped and the user's), sorted."""
    return list_presets(RECIPES_SLOT)


def split_variant(source: str) -> tuple[str, bool]:
    """`NAME@real` -> (NAME, True); anything else -> (source, False)."""
    if source.endswith(REAL_SUFFIX):
        return source[: -len(REAL_SUFFIX)], True
    return source, False


def names_recipe(source: str) -> bool:
    """Whether `source` is a recipe's name (the real variant's too)."""
    name, _ = split_variant(source)
    return has_preset(RECIPES_SLOT, name)


def load_recipe(name: str) -> Recipe:
    """Read `presets/recipes/<name>.yaml`; an unknown name or a malformed block is a one-line UserError."""
    if not has_preset(RECIPES_SLOT, name):
        raise UserError(unknown_choice("recipe", name, list_recipes()))
    path = preset_path(RECIPES_SLOT, name)
    raw = load_yaml_file(path, "recipe")
    if not isinstance(raw, dict):
        raise UserError(f"{shown_path(path)}: a recipe must be a YAML mapping of run config sections")
    return recipe_from(raw, name, path)


def recipe_from(raw: dict[str, Any], name: str, path: Path) -> Recipe:
    """The Recipe of a recipe file's mapping (its `recipe:` block checked)."""
    config = {k: copy.deepcopy(v) for k, v in raw.items() if k != RECIPE_KEY}
    block = raw.get(RECIPE_KEY)
    where = f"{shown_path(path)}: {RECIPE_KEY}"
    if not isinstance(block, dict):
        raise UserError(f"{where}: expected a mapping with {', '.join(_RECIPE_KEYS)}, got {shown(block)}")
    unknown = [k for k in block if k not in _RECIPE_KEYS]
    if unknown:
        raise UserError(f"{where}.{unknown[0]}: unknown key; allowed: {', '.join(_RECIPE_KEYS)}")
    texts = {}
    for key in _TEXT_KEYS:
        value = block.get(key)
        if not isinstance(value, (str, int)) or not str(value).strip():
            raise UserError(f"{where}.{key}: required, a line of text (got {shown(value)})")
        texts[key] = str(value).strip()
    real = block.get("real") or []
    if not isinstance(real, list) or not all(isinstance(item, str) for item in real):
        raise UserError(f"{where}.real: expected a list of key=value overrides, got {shown(real)}")
    for item in real:
        try:
            parse_override(item)
        except UserError as exc:
            raise UserError(f"{where}.real: {exc}") from None
    return Recipe(
        name=name,
        path=path,
        config=config,
        log=texts["log"],
        reproduces=texts["reproduces"],
        real_data=texts["real_data"],
        real=tuple(real),
        sweep=_sweep_block(block.get("sweep"), f"{where}.sweep"),
        real_sweep=_sweep_block(block.get("real_sweep"), f"{where}.real_sweep"),
    )


def _sweep_block(value: Any, where: str) -> dict[str, Any] | None:
    """A sweep block's mapping (its keys those of a sweep YAML), or None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UserError(f"{where}: expected a sweep mapping ({', '.join(SWEEP_KEYS)}), got {shown(value)}")
    unknown = [k for k in value if k not in SWEEP_KEYS]
    if unknown:
        raise UserError(f"{where}.{unknown[0]}: unknown key; allowed: {', '.join(SWEEP_KEYS)}")
    return copy.deepcopy(value)


def recipe_info(source: str) -> dict[str, Any]:
    """What a recipe is, for listings and for `labconsole sweep NAME`: `source` is `NAME` or `NAME@real`.

    Keys: name, source (the name as given), variant (`small` | `real`), path, task, description, log,
    reproduces, real_data, real (the overrides), sweep (the variant's sweep mapping, its `config` the source;
    None without one), has_sweep. Raises UserError for an unknown recipe (listing the recipes).
    """
    name, real = split_variant(source)
    recipe = load_recipe(name)
    task = recipe.config.get("task")
    if isinstance(task, dict):
        task = task.get("preset") or task.get("name")
    return {
        "name": recipe.name,
        "source": source,
        "variant": "real" if real else "small",
        "path": str(recipe.path),
        "task": str(task or "vpr"),
        "description": str(recipe.config.get("description") or ""),
        "log": recipe.log,
        "reproduces": recipe.reproduces,
        "real_data": recipe.real_data,
        "real": list(recipe.real),
        "sweep": recipe.sweep_for(real),
        "has_sweep": recipe.sweep is not None,
    }


def mark_run_config(raw: dict[str, Any], recipe: Recipe, real: bool) -> dict[str, Any]:
    """`raw` (a recipe's config) named and tagged as a run of the recipe's small or real variant."""
    out = dict(raw)
    tags = out.get("tags") or []
    tags = [tags] if isinstance(tags, str) else list(tags) if isinstance(tags, list) else tags
    if isinstance(tags, list):
        out["tags"] = [*tags, *(t for t in recipe.tags(real) if t not in tags)]
    if real:
        out["name"] = f"{out.get('name') or recipe.name}-real"
        out["description"] = f"log {recipe.log}, real data: {recipe.reproduces} (needs {recipe.real_data})"
    else:
        out.setdefault("description", f"log {recipe.log}: {recipe.reproduces}")
    return out
