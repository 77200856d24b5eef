"""Recipes (presets/recipes/): resolved by name like run presets, NAME@real with its real-data overrides, the
`recipe:` block kept out of validation, malformed recipes named on one line, every recipe's sweep resolvable."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from engine.core.config import resolve_config
from engine.core.config.recipes import list_recipes, load_recipe, recipe_info
from engine.core.config.resolve import load_source
from engine.core.errors import ConfigError, UserError

VPR = "vpr_model_selection"


@pytest.fixture
def user_recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user presets folder whose recipes/ the catalogue reads besides the shipped ones."""
    monkeypatch.setenv("LABCONSOLE_USER_PRESETS", str(tmp_path))
    (tmp_path / "recipes").mkdir()
    return tmp_path / "recipes"


def write_recipe(folder: Path, name: str, block: object) -> None:
    (folder / f"{name}.yaml").write_text(
        yaml.safe_dump({"name": name, "task": "vpr", "data": {"root": "/x"}, "recipe": block}),
        encoding="utf-8",
    )


def test_recipes_are_listed_with_their_log_and_sweep() -> None:
    assert VPR in list_recipes()
    info = recipe_info(VPR)
    assert info["log"] == "000" and info["task"] == "vpr" and info["variant"] == "small"
    assert "DINOv2-B/14" in info["reproduces"] and "GSV-Cities" in info["real_data"]
    assert info["has_sweep"] and info["sweep"]["config"] == VPR
    assert set(info["sweep"]["axes"]) == {"model.backbone.preset", "model.aggregator.preset"}
    real = recipe_info(f"{VPR}@real")["sweep"]
    assert real["config"] == f"{VPR}@real" and real["mode"] == "zip"
    assert real["baseline"] == {"model.backbone.preset": "resnet50", "model.aggregator.preset": "gem"}


def test_a_recipe_resolves_by_name_its_block_kept_as_tags_not_validated() -> None:
    cfg = resolve_config(VPR, ["train.max_steps=5"], check_paths=False)
    assert "recipe" not in cfg and cfg["name"] == VPR and cfg["train"]["max_steps"] == 5
    assert {"recipe:vpr_model_selection", "log:000"} <= set(cfg["tags"])
    assert cfg["model"]["backbone"]["name"] == "plain_cnn" and cfg["data"]["synthetic"] is True
    by_path = resolve_config(
        str(load_recipe(VPR).path), check_paths=False
    )  # the file itself, as the composer
    assert by_path["model"] == cfg["model"] and "recipe:vpr_model_selection" in by_path["tags"]
    raw, _ = load_source(str(load_recipe(VPR).path))
    assert "recipe" not in raw


def test_a_mapping_or_a_copy_holding_a_recipe_block_resolves(tmp_path: Path) -> None:
    """The composer hands the recipe file's mapping, block included, and keeps it in a composed file."""
    text = load_recipe(VPR).path.read_text(encoding="utf-8")
    cfg = resolve_config(yaml.safe_load(text), check_paths=False)
    assert "recipe" not in cfg and {"recipe:vpr_model_selection", "log:000"} <= set(cfg["tags"])
    copy = tmp_path / "composed-1a2b.yaml"
    copy.write_text(text, encoding="utf-8")
    assert "recipe:vpr_model_selection" in resolve_config(str(copy), check_paths=False)["tags"]


def test_the_real_version_applies_its_overrides_then_the_users() -> None:
    cfg = resolve_config(f"{VPR}@real", ["data.root=/data/gsv", "model.image_size=322"], check_paths=False)
    backbone = cfg["model"]["backbone"]
    assert backbone["name"] == "resnet50" and backbone["pretrained"] is True
    assert cfg["data"]["format"] == "gsv_cities" and cfg["data"]["synthetic"] is False
    assert cfg["data"]["root"] == "/data/gsv" and cfg["model"]["image_size"] == [322, 322]
    assert cfg["name"] == f"{VPR}-real" and "real-data" in cfg["tags"]
    assert cfg["eval"]["test_sets"][0]["name"] == "pitts30k"


def test_the_real_version_without_its_data_says_what_it_needs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_config(f"{VPR}@real", [f"data.root={tmp_path / 'missing'}"])
    message = str(caught.value)
    assert message.startswith("data.root: folder not found") and "set data.synthetic" not in message
    assert "GSV-Cities" in message and f"labconsole run {VPR}@real data.root=DIR" in message


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("nosuch@real", ["unknown recipe 'nosuch'", VPR]),
        ("demo@real", ["'demo' is a run preset, not a recipe", VPR]),
        ("nosuch", ["config file not found", "or a recipe:", VPR]),
    ],
)
def test_a_bad_name_lists_the_recipes(source: str, words: list[str]) -> None:
    with pytest.raises(UserError) as caught:
        resolve_config(source)
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize(
    ("block", "words"),
    [
        ("not a mapping", ["recipe: expected a mapping"]),
        ({"log": "000", "reproduces": "x"}, ["recipe.real_data: required"]),
        ({"log": "000", "reproduces": "x", "real_data": "y", "reel": []}, ["recipe.reel: unknown key"]),
        (
            {"log": "000", "reproduces": "x", "real_data": "y", "real": ["nokey"]},
            ["recipe.real: bad override"],
        ),
        (
            {"log": "000", "reproduces": "x", "real_data": "y", "sweep": {"axis": {}}},
            ["recipe.sweep.axis: unknown key", "axes"],
        ),
    ],
)
def test_a_malformed_recipe_is_one_line_naming_the_key(
    user_recipes: Path, block: object, words: list[str]
) -> None:
    write_recipe(user_recipes, "broken", block)
    assert "broken" in list_recipes()
    with pytest.raises(UserError) as caught:
        resolve_config("broken", check_paths=False)
    assert "\n" not in str(caught.value) and "broken.yaml" in str(caught.value)
    for word in words:
        assert word in str(caught.value)


def sweep_points(sweep: dict) -> list[list[str]]:
    """Each point of a sweep block as key=value overrides (grid or zip), the sweep's own overrides first."""
    keys, values = list(sweep.get("axes") or {}), list((sweep.get("axes") or {}).values())
    combos = zip(*values) if sweep.get("mode") == "zip" else itertools.product(*values)
    fixed = list(sweep.get("overrides") or [])
    return [
        fixed + [f"{k}={yaml.safe_dump(v, default_flow_style=True).strip()}" for k, v in zip(keys, combo)]
        for combo in combos
    ]


@pytest.mark.parametrize("name", list_recipes())
def test_every_recipe_and_each_point_of_its_sweeps_resolve(name: str) -> None:
    """Both versions of every shipped recipe resolve (paths unchecked), and so does each point of its sweeps."""
    for source in (name, f"{name}@real"):
        info = recipe_info(source)
        assert info["log"] and info["reproduces"] and info["real_data"]
        resolve_config(source, check_paths=False)
        if info["sweep"] is not None:
            points = sweep_points(info["sweep"])
            assert points, f"{source}: a sweep without points"
            for overrides in points:
                resolve_config(info["sweep"]["config"], overrides, check_paths=False)
