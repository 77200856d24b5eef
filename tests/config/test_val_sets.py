"""eval.val_sets: resolved like test sets, names unique across both, and `check` warns when a test set chooses."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.config import resolve_config
from engine.core.config.eval_sets import selection_split, split_roles, with_every_set
from engine.core.config.warnings import config_warnings
from engine.core.errors import ConfigError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("train", "val", "sim"):
        (tmp_path / name).mkdir()
    return tmp_path


def config(root: Path, *overrides: str) -> dict:
    base = {"data": {"root": str(root)}, "eval": {"test_sets": [{"name": "sim", "path": "sim"}]}}
    return resolve_config(base, list(overrides))


def test_a_test_set_choosing_the_best_checkpoint_is_warned_about(root: Path) -> None:
    [warning] = [w for w in config_warnings(config(root)) if "chosen on" in w]
    assert warning.startswith("best checkpoint is chosen on test set sim: declare eval.val_sets")
    declared = config(root, "eval.val_sets=[{name: val, path: val}]")
    assert not [w for w in config_warnings(declared) if "chosen on" in w]
    assert not [w for w in config_warnings(config(root, "train.max_steps=0")) if "chosen on" in w]


def test_validation_sets_come_first_with_their_role(root: Path) -> None:
    cfg = config(root, "eval.val_sets=[{name: val, path: val}]")
    assert cfg["eval"]["val_sets"] == [{"name": "val", "path": str(root / "val")}]
    assert split_roles(cfg) == {"val": "val", "sim": "test"}
    assert selection_split(cfg) == ("val", "val")
    assert [e["name"] for e in with_every_set(cfg)["eval"]["test_sets"]] == ["val", "sim"]
    assert selection_split(config(root)) == ("sim", "test")


def test_names_are_unique_across_validation_and_test_sets(root: Path) -> None:
    with pytest.raises(ConfigError, match="unique"):
        config(root, "eval.val_sets=[{name: sim, path: val}]")
    with pytest.raises(ConfigError, match=r"^eval.val_sets\[0\].path: not a validation set folder"):
        config(root, "eval.val_sets=[{name: v, path: nowhere}]")


def test_the_demos_declare_a_validation_set() -> None:
    for preset in ("demo", "seg_demo", "cls_demo"):
        cfg = resolve_config(preset, check_paths=False)
        assert [e["name"] for e in cfg["eval"]["val_sets"]] == ["val"]
        assert not [w for w in config_warnings(cfg) if "chosen on" in w]
