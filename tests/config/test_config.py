"""Config composition: presets, mappings naming presets, dotted overrides, and every error path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.core.config import dump_config, list_presets, resolve_config
from engine.core.errors import ConfigError, UserError


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for folder in ("train", "sim/database", "sim/queries"):
        (root / folder).mkdir(parents=True)
    return root


@pytest.fixture
def base(data_root: Path) -> dict:
    return {
        "name": "t",
        "data": {"root": str(data_root)},
        "eval": {"test_sets": [{"name": "sim", "path": "sim"}]},
    }


def test_defaults_fill_every_section(base: dict) -> None:
    cfg = resolve_config(base)
    assert list(cfg) == [
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
    assert cfg["model"]["backbone"]["name"] == "resnet18"
    assert cfg["model"]["aggregator"] == {
        "preset": "gem",
        **{k: v for k, v in cfg["model"]["aggregator"].items() if k != "preset"},
    }
    assert cfg["train"]["batch_size"] == cfg["train"]["places_per_batch"] * cfg["train"]["images_per_place"]
    assert cfg["eval"]["image_size"] == cfg["model"]["image_size"]
    assert cfg["eval"]["test_sets"][0]["path"].endswith("/sim")


def test_preset_name_and_mapping_with_overrides(base: dict) -> None:
    base["model"] = {"aggregator": {"preset": "gem", "p": 4}, "backbone": "resnet50", "image_size": 64}
    base["optim"] = "sgd"
    cfg = resolve_config(base)
    assert cfg["model"]["aggregator"]["p"] == 4.0 and isinstance(cfg["model"]["aggregator"]["p"], float)
    assert cfg["model"]["backbone"]["name"] == "resnet50"
    assert cfg["model"]["image_size"] == [64, 64]
    assert cfg["optim"]["name"] == "sgd" and cfg["optim"]["lr"] == 1e-2


def test_dotted_overrides(base: dict) -> None:
    cfg = resolve_config(
        base,
        [
            "optim.lr=1e-4",
            "model.aggregator.p=5",
            "train.max_steps=0",
            "tags=[a, b]",
            "model.image_size=[48, 72]",
        ],
    )
    assert cfg["optim"]["lr"] == 1e-4
    assert cfg["model"]["aggregator"]["p"] == 5.0
    assert cfg["train"]["max_steps"] == 0
    assert cfg["tags"] == ["a", "b"]
    assert cfg["model"]["image_size"] == [48, 72]


def test_naming_a_new_entry_restarts_the_section(base: dict) -> None:
    base["model"] = {"aggregator": {"preset": "gem", "p": 4}}
    cfg = resolve_config(base, ["model.aggregator.name=avg"])
    assert cfg["model"]["aggregator"]["name"] == "avg" and "p" not in cfg["model"]["aggregator"]
    # a timm model with no preset of its own takes the generic backbone keys; later overrides survive the restart
    cfg = resolve_config(base, ["model.backbone.pretrained=/w.pth", "model.backbone.name=efficientnet_b0"])
    assert cfg["model"]["backbone"]["name"] == "efficientnet_b0"
    assert cfg["model"]["backbone"]["pretrained"] == "/w.pth"


def test_run_preset_by_name_and_file(tmp_path: Path, data_root: Path) -> None:
    assert "demo" in list_presets("runs")
    cfg = resolve_config("demo", [f"data.root={tmp_path / 'new'}"])
    assert cfg["name"] == "demo" and cfg["data"]["synthetic"] is True
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"data": {"root": str(data_root)}, "train": {"max_steps": 3}}))
    cfg = resolve_config(path)
    assert cfg["name"] == "mine" and cfg["train"]["max_steps"] == 3
    assert yaml.safe_load(dump_config(cfg)) == cfg


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        (["optim.lrr=1"], "optim.lrr", "did you mean 'lr'"),
        (["trian.max_steps=1"], "trian", "did you mean 'train'"),
        (["model.aggregator.pp=2"], "model.aggregator.pp", "did you mean 'p'"),
        (["optim.lr=fast"], "optim.lr", "expected a number, got 'fast'"),
        (["train.max_steps=1.5"], "train.max_steps", "expected an integer"),
        (["train.max_steps=-1"], "train.max_steps", "must be ≥ 0"),
        (["device.name=tpu"], "device.name", "allowed: cpu, cuda, auto"),
        (["model.aggregator=gemm"], "model.aggregator.preset", "did you mean 'gem'"),
        (["model.aggregator.name=gemx"], "model.aggregator", "did you mean 'gem'?); allowed: avg,"),
        (["loss=multisimilarity"], "loss.preset", "did you mean 'multi_similarity'"),
        (["model.aggregator.learn_p=maybe"], "model.aggregator.learn_p", "expected true or false"),
        (["model.image_size=[0, 4]"], "model.image_size", "image size"),
        (["eval.recall_at=[1, -5]"], "eval.recall_at", "positive integers"),
        (["train.batch_size=7"], "train.batch_size", "places_per_batch × images_per_place"),
        (["train.images_per_place=1"], "train.images_per_place", "at least 2"),
    ],
)
def test_errors_name_the_key(base: dict, overrides: list[str], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(base, overrides)
    assert info.value.key == key
    assert words in info.value.message


def test_missing_data_folder(base: dict, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="folder not found") as info:
        resolve_config(base, [f"data.root={tmp_path / 'nope'}"])
    assert info.value.key == "data.root"
    with pytest.raises(ConfigError, match="not a test set folder") as info:
        resolve_config(base, ["eval.test_sets=[{name: x, path: elsewhere}]"])
    assert info.value.key == "eval.test_sets[0].path"


def test_synthetic_root_may_not_exist_yet(base: dict, tmp_path: Path) -> None:
    cfg = resolve_config(base, [f"data.root={tmp_path / 'later'}", "data.synthetic=true"])
    assert cfg["data"]["root"] == str(tmp_path / "later")


def test_bad_files_and_overrides(tmp_path: Path, base: dict) -> None:
    with pytest.raises(UserError, match="config file not found"):
        resolve_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        resolve_config(bad)
    with pytest.raises(UserError, match="bad override"):
        resolve_config(base, ["optim.lr"])
    with pytest.raises(UserError, match="expected dotted.key=value"):
        resolve_config(base, ["../x=1"])


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(UserError, match="not valid YAML"):
        resolve_config(evil)


def test_loss_mix_components_resolve_from_their_presets(base: dict, tmp_path: Path, monkeypatch) -> None:
    import shutil

    import engine.core.config.presets as presets

    fake = tmp_path / "presets"
    shutil.copytree(presets.PRESETS_DIR, fake)
    if not (fake / "loss" / "mix.yaml").exists():
        (fake / "loss" / "mix.yaml").write_text("name: mix\ndescription: weighted sum\ncomponents: null\n")
    monkeypatch.setattr(presets, "PRESETS_DIR", fake)
    base["loss"] = {
        "preset": "mix",
        "components": [{"preset": "cosface", "weight": 0.7, "margin": 0.3}, "multi_similarity"],
    }
    cfg = resolve_config(base)
    first, second = cfg["loss"]["components"]
    assert (first["name"], first["weight"], first["margin"]) == ("cosface", 0.7, 0.3)
    assert (second["name"], second["weight"]) == ("multi_similarity", 1.0)
    base["loss"]["components"][0]["marginn"] = 1
    with pytest.raises(ConfigError) as info:
        resolve_config(base)
    assert info.value.key == "loss.components[0].marginn"
    base["loss"]["components"] = [{"preset": "cosface", "weight": -1}]
    with pytest.raises(ConfigError, match="≥ 0"):
        resolve_config(base)
