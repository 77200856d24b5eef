"""Batch augmentations: shape and range kept, deterministic per generator, presets match factory parameters."""

from __future__ import annotations

import inspect
import time
from pathlib import Path

import pytest
import torch
import yaml

from engine.core.errors import ConfigError
from engine.data.augment import AUGMENTS


def batch(seed: int = 0) -> torch.Tensor:
    """B×3×H×W in [0, 1] with some structure (a gradient plus noise)."""
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0, 1, 72).view(1, 1, 1, 72).expand(16, 3, 48, 72)
    return (0.5 * ramp + 0.5 * torch.rand(16, 3, 48, 72, generator=g)).contiguous()


@pytest.mark.parametrize("night_p", [0.0, 0.5])
def test_vpr_shift_keeps_shape_range_and_changes_images(night_p: float) -> None:
    x = batch()
    y = AUGMENTS.get("vpr_shift").factory(night_p=night_p)(x.clone(), torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.min() >= 0.0 and y.max() <= 1.0 and torch.isfinite(y).all()
    assert (y - x).abs().mean() > 0.02


def test_vpr_shift_is_deterministic_for_a_generator_state() -> None:
    augment = AUGMENTS.get("vpr_shift").factory()
    a = augment(batch(), torch.Generator().manual_seed(5))
    b = augment(batch(), torch.Generator().manual_seed(5))
    c = augment(batch(), torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_vpr_shift_leaves_its_input_alone() -> None:
    x = batch()
    before = x.clone()
    AUGMENTS.get("vpr_shift").factory()(x, torch.Generator().manual_seed(0))
    assert torch.equal(x, before)


def test_zero_strength_is_nearly_the_identity() -> None:
    names = inspect.signature(AUGMENTS.get("vpr_shift").factory).parameters
    off = {name: 0.0 for name in names}
    x = batch()
    y = AUGMENTS.get("vpr_shift").factory(**off)(x, torch.Generator().manual_seed(0))
    assert (y - x).abs().max() < 1e-4


def test_none_is_the_identity() -> None:
    x = batch()
    assert AUGMENTS.get("none").factory()(x, torch.Generator()) is x


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="none, vpr_shift"):
        AUGMENTS.get("vpr_shfit")


@pytest.mark.parametrize("name", ["none", "vpr_shift"])
def test_presets_list_exactly_the_factory_parameters(name: str, repo_root: Path) -> None:
    preset = yaml.safe_load((repo_root / "presets" / "augment" / f"{name}.yaml").read_text())
    assert preset.pop("name") == name and isinstance(preset.pop("description"), str)
    preset.pop("tasks", None)  # which tasks the preset fits: catalogue metadata, not a factory argument
    signature = inspect.signature(AUGMENTS.get(name).factory).parameters
    assert preset == {k: p.default for k, p in signature.items()}


def test_vpr_shift_is_cheap_next_to_a_training_step() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.rand(128, 3, 48, 72)
        augment = AUGMENTS.get("vpr_shift").factory()
        g = torch.Generator().manual_seed(0)
        augment(x, g)
        start = time.perf_counter()
        for _ in range(3):
            augment(x, g)
        per_batch = (time.perf_counter() - start) / 3
    finally:
        torch.set_num_threads(threads)
    print(f"\nvpr_shift: {per_batch * 1e3:.0f} ms per 128×3×48×72 batch (1 thread)")
    assert per_batch < 5.0  # a sanity bound only: machines are shared; ~45 ms on a quiet core
