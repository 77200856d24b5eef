"""VPR losses against hand-written references of the papers' formulas."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from engine.core.errors import ConfigError
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


def multi_similarity_reference(
    x: np.ndarray, y: np.ndarray, alpha: float, beta: float, base: float, eps: float
) -> tuple[float, int]:
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
    loss = build_loss(
        {"name": "multi_similarity", "alpha": alpha, "beta": beta, "base": base, "miner_epsilon": eps},
        embedding_dim=8,
        num_classes=3,
    )
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


def _preset_section(repo_root: Path, name: str) -> dict:
    """The preset as a resolved section; a mix gets two components from their own presets."""
    section = _preset(repo_root, name)
    if name == "mix":
        section["components"] = [
            _preset(repo_root, "cosface") | {"weight": 0.7},
            _preset(repo_root, "multi_similarity") | {"weight": 0.3},
        ]
    return section


def test_every_loss_builds_from_its_preset_and_reports_components(repo_root: Path) -> None:
    x, y = _batch(5)
    for name in LOSSES.names():
        loss = build_loss(_preset_section(repo_root, name), embedding_dim=8, num_classes=3)
        value = loss(x.requires_grad_(), y)
        assert value.ndim == 0 and torch.isfinite(value), name
        value.backward()
        assert x.grad is not None, name
        x.grad = None
        parts = loss.last_components
        assert parts and all(not v.requires_grad and v.ndim == 0 for v in parts.values()), name
        if name != "mix":
            assert parts == {name: value.detach()}, name


def test_every_loss_runs_in_float32_under_autocast(repo_root: Path) -> None:
    x, y = _batch(6)
    for name in LOSSES.names():
        loss = build_loss(_preset_section(repo_root, name), embedding_dim=8, num_classes=3)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = loss(x.bfloat16(), y)
        assert value.dtype == torch.float32 and torch.isfinite(value), name


def test_unknown_loss_names_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        build_loss({"name": "cosfce"}, embedding_dim=8, num_classes=3)
    assert err.value.key == "loss.name" and "did you mean 'cosface'" in str(err.value)


# -- triplet ----------------------------------------------------------------------------------------------
def triplet_reference(x: np.ndarray, y: np.ndarray, margin: float, kind: str) -> tuple[float, int]:
    """FaceNet's hinge on mined triplets (m = d_an - d_ap), mean over the triplets with a non-zero cost."""
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    costs = []
    for a, p, n in itertools.product(range(len(y)), repeat=3):
        if p == a or y[p] != y[a] or y[n] == y[a]:
            continue
        m = d[a, n] - d[a, p]
        keep = {"all": m <= margin, "hard": m <= 0, "semihard": 0 < m <= margin, "easy": m > margin}[kind]
        if keep:
            costs.append(max(0.0, d[a, p] - d[a, n] + margin))
    return _mean_nonzero(costs), len(costs)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("margin", "kind"), [(0.1, "semihard"), (0.3, "semihard"), (0.2, "hard"), (0.2, "all")]
)
def test_triplet_matches_facenet(seed: int, margin: float, kind: str) -> None:
    x, y = _batch(seed)
    section = {"name": "triplet", "margin": margin, "type_of_triplets": kind}
    loss = build_loss(section, embedding_dim=8, num_classes=3)
    expected, kept = triplet_reference(x.double().numpy(), y.numpy(), margin, kind)
    assert loss(x, y).item() == pytest.approx(expected, rel=1e-5, abs=1e-7)
    assert loss.last_triplets == kept


def test_triplet_mining_matters() -> None:
    x, y = _batch(0)
    semi, kept = triplet_reference(x.double().numpy(), y.numpy(), 0.3, "semihard")
    every, total = triplet_reference(x.double().numpy(), y.numpy(), 0.3, "all")
    assert 0 < kept < total and semi != pytest.approx(every, rel=1e-3)


# -- contrastive ------------------------------------------------------------------------------------------
def contrastive_reference(
    x: np.ndarray, y: np.ndarray, pos_margin: float, neg_margin: float, miner_pos: float, miner_neg: float
) -> tuple[float, tuple[int, int]]:
    """Distance hinges on pairs kept by cosine margins; mean of the non-zero costs per side, summed."""
    s, d = x @ x.T, np.linalg.norm(x[:, None] - x[None], axis=2)
    pos, neg = [], []
    for i, j in itertools.permutations(range(len(y)), 2):
        if y[i] == y[j] and s[i, j] < miner_pos:
            pos.append(max(0.0, d[i, j] - pos_margin))
        elif y[i] != y[j] and s[i, j] > miner_neg:
            neg.append(max(0.0, neg_margin - d[i, j]))
    return _mean_nonzero(pos) + _mean_nonzero(neg), (len(pos), len(neg))


def _mean_nonzero(costs: list[float]) -> float:
    """pytorch-metric-learning's AvgNonZeroReducer: the mean over the non-zero costs, 0 if there are none."""
    nonzero = [c for c in costs if c > 0]
    return float(np.mean(nonzero)) if nonzero else 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("margins", [(0.0, 1.0, 0.7, 0.3), (0.2, 0.8, 0.5, 0.0)])
def test_contrastive_matches_formula(seed: int, margins: tuple[float, float, float, float]) -> None:
    x, y = _batch(seed)
    keys = ("pos_margin", "neg_margin", "miner_pos_margin", "miner_neg_margin")
    loss = build_loss({"name": "contrastive", **dict(zip(keys, margins))}, embedding_dim=8, num_classes=3)
    expected, kept = contrastive_reference(x.double().numpy(), y.numpy(), *margins)
    assert loss(x, y).item() == pytest.approx(expected, rel=1e-5)
    assert loss.last_pairs == kept
    every = contrastive_reference(x.double().numpy(), y.numpy(), *margins[:2], 2.0, -2.0)[1]
    assert sum(kept) < sum(every)  # the miner really drops pairs, so the test checks it


# -- arcface ----------------------------------------------------------------------------------------------
def arcface_reference(
    x: torch.Tensor, weight: torch.Tensor, y: torch.Tensor, margin_deg: float, scale: float
) -> torch.Tensor:
    """Deng et al.: s·cos(θ_y + m) for the true class (s·(cos θ_y - m sin m) past π - m), else s·cos θ_j."""
    m = math.radians(margin_deg)
    cosine = F.normalize(x.double(), dim=1) @ F.normalize(weight.double(), dim=0)  # B×C
    theta = torch.acos(cosine.gather(1, y[:, None]).clamp(-1, 1))
    target = torch.where(theta <= math.pi - m, torch.cos(theta + m), torch.cos(theta) - m * math.sin(m))
    logits = scale * cosine.scatter(1, y[:, None], target)
    return F.cross_entropy(logits, y)


@pytest.mark.parametrize(("margin", "scale"), [(28.6, 64.0), (20.0, 30.0)])
def test_arcface_matches_formula(margin: float, scale: float) -> None:
    x, y = _batch(7, places=4, per_place=2)
    loss = build_loss({"name": "arcface", "margin": margin, "scale": scale}, embedding_dim=8, num_classes=4)
    with torch.no_grad():
        loss.weight[:, y[0]] = -x[0]  # θ = π for sample 0: exercises the branch past π - m
    expected = arcface_reference(x, loss.weight.detach(), y, margin, scale)
    assert loss(x, y).item() == pytest.approx(expected.item(), rel=1e-5)


def test_arcface_weights_are_parameters(repo_root: Path) -> None:
    loss = build_loss(_preset(repo_root, "arcface"), embedding_dim=8, num_classes=5)
    params = list(loss.parameters())
    assert len(params) == 1 and params[0].shape == (8, 5) and params[0] is loss.weight
    x, y = _batch(4, places=5, per_place=2)
    loss(x, y).backward()
    assert loss.weight.grad is not None and loss.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"name": "triplet", "type_of_triplets": "semi"}, "loss.type_of_triplets"),
        ({"name": "triplet", "margin": 0.0}, "loss.margin"),
        ({"name": "contrastive", "pos_margin": 1.0, "neg_margin": 0.5}, "loss.neg_margin"),
        ({"name": "arcface", "margin": 95.0}, "loss.margin"),
    ],
)
def test_bad_params_name_the_key(section: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_loss(section, embedding_dim=8, num_classes=3)
    assert err.value.key == key
