"""Routing diagnostics of the pce backbone against hand computations; key k-means and the EMA rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.models.pce.diagnostics import (
    RoutingRecorder,
    balance_from_totals,
    entropy_bits,
    load_balance,
    mutual_information_bits,
    route_clusters,
    route_codes,
    utilisation,
)
from engine.models.pce.keys import assigned_means, ema_update, kmeans


def test_entropy_of_known_weights_in_bits() -> None:
    weights = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]])
    # 1 bit, 2 bits, 0 bits -> mean 1
    assert entropy_bits(weights).item() == pytest.approx(1.0)
    p = torch.tensor([[0.7, 0.2, 0.1]])
    by_hand = -(0.7 * math.log2(0.7) + 0.2 * math.log2(0.2) + 0.1 * math.log2(0.1))
    assert entropy_bits(p).item() == pytest.approx(by_hand, rel=1e-6)


def test_utilisation_of_a_known_assignment() -> None:
    shares = utilisation(torch.tensor([0, 0, 1, 3, 0, 1, 3, 3]), 4)
    assert shares.tolist() == [3 / 8, 2 / 8, 0.0, 3 / 8]


def test_load_balance_is_one_when_balanced_and_n_when_collapsed() -> None:
    balanced = torch.eye(4)
    assert load_balance(balanced).item() == pytest.approx(1.0)
    collapsed = torch.tensor([[1.0, 0, 0, 0]] * 8)
    assert load_balance(collapsed).item() == pytest.approx(4.0)
    # f = (1/2, 1/2), P = (0.6, 0.4): 2 * (0.5*0.6 + 0.5*0.4) = 1
    mixed = torch.tensor([[0.8, 0.2], [0.4, 0.6]])
    assert load_balance(mixed).item() == pytest.approx(2 * (0.5 * 0.6 + 0.5 * 0.4))
    assert balance_from_totals(np.array([1, 1]), np.array([1.2, 0.8])) == pytest.approx(1.0)


def test_load_balance_has_a_gradient_through_the_probabilities() -> None:
    logits = torch.randn(6, 3, requires_grad=True)
    load_balance(torch.softmax(logits, dim=1)).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_mutual_information_zero_when_position_independent() -> None:
    same_row = np.tile([5.0, 3.0, 2.0, 0.0], (16, 1))
    assert mutual_information_bits(same_row) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_mutual_information_log2_n_for_a_bijection(n: int) -> None:
    assert mutual_information_bits(np.eye(n) * 7) == pytest.approx(math.log2(n))


def test_mutual_information_of_a_small_table_by_hand() -> None:
    counts = np.array([[3.0, 1.0], [1.0, 3.0]])  # p(x,e) = 3/8 on the diagonal, 1/8 off; marginals 1/2
    by_hand = 2 * (3 / 8) * math.log2((3 / 8) / 0.25) + 2 * (1 / 8) * math.log2((1 / 8) / 0.25)
    assert mutual_information_bits(counts) == pytest.approx(by_hand)


def test_route_codes_and_clusters() -> None:
    choices = torch.tensor([[0, 1, 0, 0], [2, 2, 2, 3]])  # stage × patch
    codes = route_codes(choices, 4)
    assert codes.tolist() == [8, 9, 8, 12]
    counts = np.bincount(codes.numpy(), minlength=16)
    assert route_clusters(counts) == 3
    assert route_clusters(counts, min_share=0.5) == 1


def test_ema_update_rule_exactly() -> None:
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    values = torch.tensor([[0.0, 1.0], [1.0, 1.0], [9.0, 9.0]])
    present = torch.tensor([True, True, False])
    ema_update(keys, values, present, alpha=0.9)
    expected = torch.tensor([[0.9, 0.1], [0.1, 1.0], [2.0, 2.0]])
    torch.testing.assert_close(keys, expected)


def test_assigned_means() -> None:
    embeddings = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    means, present = assigned_means(embeddings, torch.tensor([0, 0, 2]), 3)
    torch.testing.assert_close(means, torch.tensor([[2.0, 0.0], [0.0, 0.0], [0.0, 2.0]]))
    assert present.tolist() == [True, False, True]


def test_kmeans_is_deterministic_for_a_seed_and_finds_clear_clusters() -> None:
    generator = torch.Generator().manual_seed(3)
    directions = torch.eye(4, 8) * 5
    points = torch.cat([d + 0.1 * torch.randn(20, 8, generator=generator) for d in directions])
    first, again = kmeans(points, 4, seed=7), kmeans(points, 4, seed=7)
    torch.testing.assert_close(first, again)
    # each centroid sits on one of the four directions (cosine > 0.99), all four found
    matched = (first @ torch.nn.functional.normalize(directions, dim=1).T).argmax(dim=1)
    assert sorted(matched.tolist()) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="at least 4"):
        kmeans(points[:3], 4, seed=0)


def test_recorder_summary_by_hand() -> None:
    """Two stages, two experts, 2 images on a 1×2 grid."""
    recorder = RoutingRecorder(num_stages=2, num_experts=2, samples=1)
    stage0 = torch.tensor(
        [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]]
    )  # position -> expert bijection
    stage1 = torch.tensor([[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]])  # ties -> expert 0
    recorder.add(torch.rand(2, 3, 8, 16), (1, 2), [stage0, stage1])
    out = recorder.summary()
    assert out["routing/entropy_s0"] == pytest.approx(0.0)
    assert out["routing/entropy_s1"] == pytest.approx(1.0)
    assert out["routing/entropy"] == pytest.approx(0.5)
    assert out["routing/util_s0_e0"] == pytest.approx(0.5)
    assert out["routing/util_s1_e0"] == pytest.approx(1.0)
    assert out["routing/mi_bits_s0"] == pytest.approx(1.0)
    assert out["routing/mi_bits_s1"] == pytest.approx(0.0)
    assert out["routing/load_balance"] == pytest.approx((1.0 + 2 * (1.0 * 0.5)) / 2)
    assert out["routing/routes_used"] == 2.0  # (0, 0) and (1, 0)
    assert out["routing/route_clusters"] == 2.0
    assert len(recorder.kept) == 1 and recorder.kept[0].choices.shape == (2, 1, 2)
    assert RoutingRecorder(1, 2).summary() == {}


def test_recorder_keeps_sample_images_spread_over_the_set() -> None:
    recorder = RoutingRecorder(num_stages=1, num_experts=2, samples=3)
    for batch in range(
        10
    ):  # 40 images; image i: red i, green 39, blue 0 (so i survives the contrast stretch)
        images = torch.zeros(4, 3, 4, 4)
        images[:, 0] = torch.arange(batch * 4, batch * 4 + 4).float().view(4, 1, 1)
        images[:, 1] = 39
        recorder.add(images, (1, 1), [torch.tensor([1.0, 0.0]).expand(4, 1, 2)])
    assert len(recorder.pool) <= 6 and recorder.stride == 8
    indices = [round(sample.image[0, 0, 0] / 255 * 39) for sample in recorder.kept]
    assert indices == [0, 16, 32]  # spread over the 40, not the first three
