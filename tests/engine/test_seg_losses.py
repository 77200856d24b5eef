"""Losses on class logits: torch / smp references with ignored pixels, presets, the mix, config errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from segmentation_models_pytorch import losses as smp_losses

from engine.core.errors import ConfigError
from engine.losses import IGNORE_INDEX, LOSSES, LossMix, build_loss, check_inputs
from engine.losses.logits import LOGIT_LOSSES

CLASSES = 5


def _preset(repo_root: Path, name: str) -> dict:
    data = yaml.safe_load((repo_root / "presets" / "loss" / f"{name}.yaml").read_text())
    data.pop("description")
    return data


def _dense(seed: int = 0, ignore_share: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits 2×5×8×12 and targets with a share of ignored pixels."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, CLASSES, 8, 12, generator=gen)
    target = torch.randint(CLASSES, (2, 8, 12), generator=gen)
    target[torch.rand(target.shape, generator=gen) < ignore_share] = IGNORE_INDEX
    return logits, target


def _build(name: str, **params: object) -> torch.nn.Module:
    return build_loss({"name": name, **params}, embedding_dim=CLASSES, num_classes=CLASSES)


@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 0.5, 1.0, 3.0]])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("seed", [0, 1])
def test_ce_is_torch_cross_entropy_with_ignore(weights: list | None, smoothing: float, seed: int) -> None:
    logits, target = _dense(seed)
    loss = _build("ce", class_weights=weights, label_smoothing=smoothing)
    expected = F.cross_entropy(
        logits,
        target,
        weight=None if weights is None else torch.tensor(weights),
        ignore_index=IGNORE_INDEX,
        label_smoothing=smoothing,
    )
    assert loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-5)


def test_ce_takes_classification_logits_too() -> None:
    gen = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(6, CLASSES, generator=gen), torch.randint(CLASSES, (6,), generator=gen)
    assert _build("ce")(logits, labels).item() == pytest.approx(
        F.cross_entropy(logits, labels).item(), rel=1e-6
    )


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("dice", smp_losses.DiceLoss("multiclass", ignore_index=IGNORE_INDEX)),
        ("lovasz", smp_losses.LovaszLoss("multiclass", ignore_index=IGNORE_INDEX)),
        ("focal", smp_losses.FocalLoss("multiclass", ignore_index=IGNORE_INDEX)),
        ("tversky", smp_losses.TverskyLoss("multiclass", ignore_index=IGNORE_INDEX)),
    ],
)
def test_smp_losses_with_ignored_pixels(name: str, reference: torch.nn.Module) -> None:
    logits, target = _dense(3)
    ours = _build(name)(logits, target)
    assert ours.item() == pytest.approx(reference(logits, target).item(), rel=1e-5)
    # Ignored pixels really do not matter: change the logits there and nothing moves.
    noisy = logits + 10 * (target == IGNORE_INDEX).unsqueeze(1) * torch.randn_like(logits)
    assert _build(name)(noisy, target).item() == pytest.approx(ours.item(), rel=1e-5)


@pytest.mark.parametrize("name", ["ce", "dice", "lovasz", "focal", "tversky"])
def test_every_logit_loss_backpropagates_and_survives_an_all_ignored_batch(name: str) -> None:
    logits, target = _dense(4)
    logits.requires_grad_()
    loss = _build(name)
    value = loss(logits, target)
    value.backward()
    assert (
        torch.isfinite(value) and logits.grad is not None and loss.last_components == {name: value.detach()}
    )
    empty = torch.full_like(target, IGNORE_INDEX)
    nothing = loss(logits, empty)
    assert torch.isfinite(nothing) and nothing.item() == pytest.approx(0.0, abs=1e-6)


def test_ce_lovasz_mix_logs_each_component(repo_root: Path) -> None:
    section = {
        "name": "mix",
        "components": [
            _preset(repo_root, "ce") | {"weight": 0.7},
            _preset(repo_root, "lovasz") | {"weight": 0.3},
        ],
    }
    mix = build_loss(section, embedding_dim=CLASSES, num_classes=CLASSES)
    assert isinstance(mix, LossMix)
    logits, target = _dense(5)
    total = mix(logits, target)
    parts = mix.last_components
    assert set(parts) == {"ce", "lovasz"}
    assert total.item() == pytest.approx(0.7 * parts["ce"].item() + 0.3 * parts["lovasz"].item(), rel=1e-6)
    check_inputs(mix, "logits", "segmentation", LOGIT_LOSSES)  # no error


def test_vpr_losses_are_refused_by_logit_tasks() -> None:
    with pytest.raises(ConfigError) as err:
        check_inputs(_build("multi_similarity"), "logits", "segmentation", LOGIT_LOSSES)
    assert err.value.key == "loss.name" and "ce" in err.value.message and "lovasz" in err.value.message
    mix = _build(
        "mix",
        components=[
            {"name": "ce", "weight": 1.0},
            {"name": "cosface", "weight": 1.0, "margin": 0.4, "scale": 30.0},
        ],
    )
    with pytest.raises(ConfigError) as err:
        check_inputs(mix, "logits", "segmentation", LOGIT_LOSSES)
    assert err.value.key == "loss.components[1].name"


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"name": "ce", "class_weights": [1.0, 2.0]}, "loss.class_weights"),
        ({"name": "ce", "label_smoothing": 1.5}, "loss.label_smoothing"),
        ({"name": "focal", "alpha": 2.0}, "loss.alpha"),
        ({"name": "tversky", "beta": -1.0}, "loss.beta"),
        (
            {"name": "mix", "components": [{"name": "ce", "weight": 1.0, "class_weights": [1]}]},
            "loss.components[0].class_weights",
        ),
    ],
)
def test_bad_params_name_the_key(section: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_loss(section, embedding_dim=CLASSES, num_classes=CLASSES)
    assert err.value.key == key


def test_logit_losses_have_presets(repo_root: Path) -> None:
    assert set(LOGIT_LOSSES) == {"ce", "dice", "focal", "lovasz", "tversky"} <= set(LOSSES.names())
    for name in LOGIT_LOSSES:
        assert _preset(repo_root, name)["name"] == name  # every factory param is checked by test_models.py
