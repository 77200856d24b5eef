"""VPR losses against hand-written references of the papers' formulas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from engine.errors import ConfigError
from engine.losses import LOSSES, build_loss


def _preset(repo_root: Path, name: str) -> dict:
    data = yaml.safe_load((repo_root / "presets" / "loss" / f"{name}.yaml").read_text())
    data.pop("description")
    return data


def _batch(seed: int, places: int = 3, per_place: int = 3, dim: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit descriptors clustered by place (so mining has easy and hard pairs), with their labels."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(places, dim, generator=gen)
    labels = torch.arange(places).repeat_interleave(per_place)
    x = centres[labels] + 0.9 * torch.randn(len(labels), dim, generator=gen)
    return F.normalize(x, dim=1), labels


def multi_similarity_reference(x: np.ndarray, y: np.ndarray, alpha: float, beta: float, base: float,
                               eps: float) -> tuple[float, int]:
    """Wang et al. 2019, eqs. 4-6: hard-pair mining, then the soft-weighted pair loss, mean over anchors."""
    s = x @ x.T
    total, kept = 0.0, 0
    for i in range(len(y)):
        pos = [j for j in range(len(y)) if y[j] == y[i] and j != i]
        neg = [j for j in range(len(y)) if y[j] != y[i]]
        if not pos or not neg:
            continue
        hard_neg = [j for j in neg if s[i, j] + eps > min(s[i, pos])]
        hard_pos = [j for j in pos if s[i, j] - eps < max(s[i, neg])]
        kept += len(hard_pos) + len(hard_neg)
        total += np.log1p(sum(np.exp(-alpha * (s[i, j] - base)) for j in hard_pos)) / alpha
        total += np.log1p(sum(np.exp(beta * (s[i, j] - base)) for j in hard_neg)) / beta
    return total / len(y), kept


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("alpha", "beta", "base", "eps"), [(1.0, 50.0, 0.0, 0.1), (2.0, 40.0, 0.5, 0.05)])
def test_multi_similarity_matches_paper(
    seed: int, alpha: float, beta: float, base: float, eps: float
) -> None:
    x, y = _batch(seed)
    loss = build_loss({"name": "multi_similarity", "alpha": alpha, "beta": beta, "base": base,
                       "miner_epsilon": eps}, embedding_dim=8, num_classes=3)
    expected, kept = multi_similarity_reference(x.double().numpy(), y.numpy(), alpha, beta, base, eps)
    assert loss(x, y).item() == pytest.approx(expected, rel=1e-5)
    assert sum(loss.last_pairs) == kept


def test_multi_similarity_mining_matters() -> None:
    """The reference with mining differs from all pairs, so the test above really checks the miner."""
    x, y = _batch(0)
    mined, _ = multi_similarity_reference(x.double().numpy(), y.numpy(), 1.0, 50.0, 0.0, 0.1)
    every, _ = multi_similarity_reference(x.double().numpy(), y.numpy(), 1.0, 50.0, 0.0, 10.0)
    assert mined != pytest.approx(every, rel=1e-3)


def test_multi_similarity_without_pairs_is_zero_with_gradient(repo_root: Path) -> None:
    loss = build_loss(_preset(repo_root, "multi_similarity"), embedding_dim=8, num_classes=4)
    x = F.normalize(torch.randn(4, 8), dim=1).requires_grad_()
    value = loss(x, torch.arange(4))  # every place seen once: no positive pair
    value.backward()
    assert value.item() == 0.0 and x.grad is not None


def test_multi_similarity_accepts_bf16_under_autocast(repo_root: Path) -> None:
    loss = build_loss(_preset(repo_root, "multi_similarity"), embedding_dim=8, num_classes=3)
    x, y = _batch(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(x.bfloat16(), y)
    assert value.dtype == torch.float32 and torch.isfinite(value)


@pytest.mark.parametrize(("margin", "scale"), [(0.4, 30.0), (0.35, 64.0)])
def test_cosface_matches_formula(margin: float, scale: float) -> None:
    x, y = _batch(3, places=4, per_place=2)
    loss = build_loss({"name": "cosface", "margin": margin, "scale": scale}, embedding_dim=8, num_classes=4)
    cosine = F.normalize(x, dim=1) @ F.normalize(loss.weight.detach(), dim=0)  # B×C
    logits = scale * (cosine - margin * F.one_hot(y, 4))
    expected = F.cross_entropy(logits, y)
    torch.testing.assert_close(loss(x, y), expected, rtol=1e-5, atol=1e-6)


def test_cosface_weights_are_parameters(repo_root: Path) -> None:
    loss = build_loss(_preset(repo_root, "cosface"), embedding_dim=8, num_classes=5)
    params = list(loss.parameters())
    assert len(params) == 1 and params[0].shape == (8, 5) and params[0] is loss.weight
    x, y = _batch(4, places=5, per_place=2)
    loss(x, y).backward()
    assert loss.weight.grad is not None


def test_every_loss_builds_from_its_preset(repo_root: Path) -> None:
    x, y = _batch(5)
    for name in LOSSES.names():
        value = build_loss(_preset(repo_root, name), embedding_dim=8, num_classes=3)(x, y)
        assert value.ndim == 0 and torch.isfinite(value)


def test_unknown_loss_names_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        build_loss({"name": "cosfce"}, embedding_dim=8, num_classes=3)
    assert err.value.key == "loss.name" and "did you mean 'cosface'" in str(err.value)
