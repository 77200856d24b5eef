"""The loss mix: weighted sum, per-component values, steerable weights, parameters and config errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.core.errors import ConfigError
from engine.losses import LOSSES, LossMix, build_loss

COSFACE = {"preset": "cosface", "name": "cosface", "margin": 0.4, "scale": 30.0}
MS = {
    "preset": "multi_similarity",
    "name": "multi_similarity",
    "alpha": 1.0,
    "beta": 50.0,
    "base": 0.0,
    "miner_epsilon": 0.1,
}


def _batch(seed: int = 0, places: int = 4, per_place: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit descriptors (dim 8) clustered by place, with their place labels."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(places).repeat_interleave(per_place)
    x = torch.randn(places, 8, generator=gen)[labels] + 0.9 * torch.randn(len(labels), 8, generator=gen)
    return F.normalize(x, dim=1), labels


def _mix(*components: dict) -> LossMix:
    """A mix as the config resolver hands it over: each component expanded from its preset, plus a weight."""
    loss = build_loss(
        {"name": "mix", "preset": "mix", "components": list(components)}, embedding_dim=8, num_classes=4
    )
    assert isinstance(loss, LossMix)
    return loss


def test_mix_is_the_weighted_sum_of_independent_losses() -> None:
    loss = _mix(COSFACE | {"weight": 0.7}, MS | {"weight": 0.3})
    cosface = LOSSES.build("cosface", 8, 4, margin=0.4, scale=30.0)
    cosface.load_state_dict(loss.parts["cosface"].state_dict())  # same class centres
    ms = LOSSES.build("multi_similarity", 8, 4)
    x, y = _batch()
    expected = 0.7 * cosface(x, y) + 0.3 * ms(x, y)
    torch.testing.assert_close(loss(x, y), expected)
    assert loss.last_components.keys() == {"cosface", "multi_similarity"}
    torch.testing.assert_close(loss.last_components["cosface"], cosface(x, y).detach())  # unweighted
    assert not any(v.requires_grad for v in loss.last_components.values())


def test_duplicate_components_get_suffixes() -> None:
    loss = _mix(
        COSFACE | {"weight": 1.0}, COSFACE | {"weight": 0.5, "margin": 0.2}, COSFACE | {"weight": 0.0}
    )
    x, y = _batch(1)
    loss(x, y)
    assert list(loss.last_components) == ["cosface", "cosface_2", "cosface_3"]
    assert loss.weights == {"cosface": 1.0, "cosface_2": 0.5, "cosface_3": 0.0}
    assert loss.parts["cosface_2"].last_components.keys() == {"cosface_2"}


def test_component_parameters_reach_the_optimizer() -> None:
    loss = _mix(COSFACE | {"weight": 1.0}, MS | {"weight": 1.0}, COSFACE | {"weight": 0.0})
    params = list(loss.parameters())
    assert len(params) == 2 and all(p.shape == (8, 4) for p in params)
    x, y = _batch(2)
    loss(x, y).backward()
    assert loss.parts["cosface"].weight.grad.abs().sum() > 0
    assert loss.parts["cosface_2"].weight.grad is None  # weight 0: left out of the sum


def test_set_weight_steers_the_total() -> None:
    loss = _mix(COSFACE | {"weight": 0.7}, MS | {"weight": 0.3})
    x, y = _batch(3)
    loss(x, y)
    parts = loss.last_components
    loss.set_weight("multi_similarity", 2)
    torch.testing.assert_close(loss(x, y), 0.7 * parts["cosface"] + 2.0 * parts["multi_similarity"])
    assert loss.weights["multi_similarity"] == 2.0
    with pytest.raises(ConfigError) as err:
        loss.set_weight("multi_similarity", -1.0)
    assert err.value.key == "loss.components[1].weight"
    with pytest.raises(ConfigError, match="did you mean 'cosface'"):
        loss.set_weight("cosfac", 1.0)


def test_all_weights_zero_still_backpropagates() -> None:
    loss = _mix(MS | {"weight": 0.0})
    x, y = _batch(4)
    x.requires_grad_()
    value = loss(x, y)
    value.backward()
    assert value.item() == 0.0 and x.grad is not None and "multi_similarity" in loss.last_components


def test_steered_weights_survive_a_state_dict_round_trip() -> None:
    loss = _mix(COSFACE | {"weight": 0.7}, MS | {"weight": 0.3})
    loss.set_weight("cosface", 0.1)
    fresh = _mix(COSFACE | {"weight": 0.7}, MS | {"weight": 0.3})
    fresh.load_state_dict(loss.state_dict())
    assert fresh.weights == {"cosface": 0.1, "multi_similarity": 0.3}
    torch.testing.assert_close(fresh.parts["cosface"].weight, loss.parts["cosface"].weight)


@pytest.mark.parametrize(
    ("components", "key"),
    [
        (None, "loss.components"),
        ([], "loss.components"),
        ([COSFACE | {"weight": -0.5}], "loss.components[0].weight"),
        ([MS, COSFACE | {"weight": "a lot"}], "loss.components[1].weight"),
        ([COSFACE | {"scale": -1.0}], "loss.components[0].scale"),
        ([COSFACE | {"marginn": 0.3}], "loss.components[0].marginn"),
        ([{"name": "cosfce"}], "loss.components[0].name"),
        ([{"name": "mix", "components": [MS]}], "loss.components[0].name"),
        (["cosface"], "loss.components[0]"),
    ],
)
def test_bad_components_name_the_key(components: object, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_loss({"name": "mix", "components": components}, embedding_dim=8, num_classes=4)
    assert err.value.key == key


def test_builds_from_the_config_resolver_output() -> None:
    from engine.core.config.resolve import resolve_preset_section

    section = resolve_preset_section(
        "loss",
        {
            "preset": "mix",
            "components": [{"preset": "cosface", "weight": 0.7, "margin": 0.3}, "multi_similarity"],
        },
    )
    loss = build_loss(section, embedding_dim=8, num_classes=4)
    assert loss.weights == {"cosface": 0.7, "multi_similarity": 1.0}
    assert loss.parts["cosface"].loss.margin == 0.3
    x, y = _batch(5)
    assert torch.isfinite(loss(x, y))
