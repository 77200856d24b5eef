"""The pce backbone: shapes for every router and stage count, routing weights, steering, hooks, figures."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml

from engine.core.errors import ConfigError
from engine.freeze.stages import backbone_stages
from engine.models.backbones import build_backbone
from engine.models.pce import ROUTERS, pce
from engine.models.pce.patches import add_coords, coord_channels, merge_patches, split_patches
from engine.models.pce.routers import RouterBank, RoutingInput, mask_and_top_k

PRESETS = Path(__file__).resolve().parents[3] / "presets" / "backbone"
ROUTER_NAMES = ["positional", "uniform", "cosine", "gumbel", "mlp", "key_attention"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tiny(stages: int = 2, **options: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return pce(widths=[16, 32, 32][:stages], patch_size=8, **({"stem_channels": 0} | options))


def test_router_registry_lists_every_router() -> None:
    assert sorted(ROUTER_NAMES) == ROUTERS.names()


@pytest.mark.parametrize("router", ROUTER_NAMES)
@pytest.mark.parametrize("stages", [1, 2, 3])
def test_output_shape_for_every_router_and_stage_count(router: str, stages: int) -> None:
    backbone = _tiny(stages, router=router)
    out = backbone(torch.randn(2, 3, 32, 32))
    side = 32 // backbone.stride
    assert backbone.stride == 2 ** (stages - 1)
    assert out.shape == (2, backbone.out_channels, side, side)
    assert len(backbone.auxiliary()["scalars"]) == 1 + stages * (1 + 4)


def test_odd_sizes_are_padded_to_the_grid_and_cropped_back() -> None:
    backbone = _tiny(2).eval()
    assert backbone(torch.randn(1, 3, 30, 21)).shape == (1, 32, 15, 11)


@pytest.mark.parametrize("router", ROUTER_NAMES)
@pytest.mark.parametrize("training", [True, False])
def test_routing_weights_sum_to_one(router: str, training: bool) -> None:
    bank = RouterBank(7, 4).train(training)
    patches = add_coords(torch.randn(2 * 16, 3, 8, 8), 2, (4, 4))
    weights = ROUTERS.get(router).factory(bank, RoutingInput(patches, 2, (4, 4)))
    assert weights.shape == (32, 4)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(32))


def test_top_k_and_switched_off_experts_renormalise() -> None:
    weights = torch.tensor([[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0]])
    active = torch.tensor([True, True, True, False])
    out = mask_and_top_k(weights, active, top_k=2)
    torch.testing.assert_close(out[0], torch.tensor([0.0, 0.4, 0.6, 0.0]))
    torch.testing.assert_close(out[1], torch.tensor([1.0, 0.0, 0.0, 0.0]))
    # a patch whose only weight is on a switched-off expert spreads over the active ones
    spread = mask_and_top_k(torch.tensor([[0.0, 0.0, 0.0, 1.0]]), active, top_k=0)
    torch.testing.assert_close(spread[0], torch.tensor([1 / 3, 1 / 3, 1 / 3, 0.0]))


def test_gumbel_at_low_temperature_is_near_one_hot() -> None:
    torch.manual_seed(0)
    patches = add_coords(torch.randn(64, 3, 8, 8), 4, (4, 4))
    largest = {}
    for tau in (0.01, 10.0):
        bank = RouterBank(7, 4, gumbel_tau=tau).train()
        weights = ROUTERS.get("gumbel").factory(bank, RoutingInput(patches, 4, (4, 4)))
        largest[tau] = weights.max(dim=1).values
    # two noisy scores closer than ~τ still share a patch now and then: most, not all, are one-hot
    assert (largest[0.01] > 0.99).float().mean() > 0.9 and largest[0.01].mean() > 0.98
    assert largest[10.0].mean() < 0.5


def test_positional_router_is_deterministic_in_eval_and_noisy_in_training() -> None:
    bank = RouterBank(7, 4, noise_sigma=0.3)
    routing = RoutingInput(add_coords(torch.randn(16, 3, 4, 4), 1, (4, 4)), 1, (4, 4))
    noisy = ROUTERS.get("positional").factory(bank.train(), routing)
    clean = ROUTERS.get("positional").factory(bank.eval(), routing)
    assert set(clean.flatten().tolist()) == {0.0, 1.0}
    assert clean.argmax(dim=1).reshape(4, 4).tolist() == [
        [0, 0, 1, 1],
        [0, 0, 1, 1],
        [2, 2, 3, 3],
        [2, 2, 3, 3],
    ]
    assert (noisy.argmax(dim=1) == clean.argmax(dim=1)).all() and (noisy < 1).all()


def test_patches_split_merge_round_trip_and_coordinates() -> None:
    x = torch.randn(2, 5, 12, 8)
    patches, size = split_patches(x, (3, 2))
    assert patches.shape == (12, 5, 4, 4) and size == (4, 4)
    torch.testing.assert_close(patches[1], x[0, :, 0:4, 4:8])  # row-major: second patch = top right
    torch.testing.assert_close(merge_patches(patches, 2, (3, 2), (12, 8)), x)
    coords = coord_channels((3, 2), (4, 4), x)
    assert coords.shape == (6, 4, 4, 4)
    assert coords[0, 0, :, 0].tolist() == pytest.approx([-1, -1 / 3, 1 / 3, 1])  # pixel y in the patch
    assert coords[5, 2, 0, 0].item() == 1.0 and coords[5, 3, 0, 0].item() == 1.0  # last patch: y = x = 1
    assert coords[0, 2, 0, 0].item() == -1.0 and coords[2, 2, 0, 0].item() == 0.0  # patch rows -1, 0, 1


def test_cosine_keys_follow_the_ema_rule_outside_the_graph() -> None:
    bank = RouterBank(7, 4, key_update="ema", ema_alpha=0.5).train()
    before = bank.keys.detach().clone()
    patches = add_coords(torch.randn(16, 3, 4, 4), 1, (4, 4))
    weights = ROUTERS.get("cosine").factory(bank, RoutingInput(patches, 1, (4, 4)))
    weights.sum().backward()
    assert bank.keys.grad is None and not torch.equal(before, bank.keys.detach())

    learned = RouterBank(7, 4, key_update="learned").train()
    before = learned.keys.detach().clone()
    (ROUTERS.get("cosine").factory(learned, RoutingInput(patches, 1, (4, 4)))[:, 0]).sum().backward()
    assert learned.keys.grad is not None and torch.equal(before, learned.keys.detach())


def test_init_keys_is_deterministic_for_a_seed() -> None:
    sample = torch.randn(8, 3, 32, 32)
    first, second = _tiny(2, router="cosine"), _tiny(2, router="cosine")
    first.init_keys(sample, seed=3)
    second.init_keys(sample, seed=3)
    for a, b in zip(first.stages, second.stages):
        torch.testing.assert_close(a.router.keys, b.router.keys)
        torch.testing.assert_close(a.router.attention_keys, b.router.attention_keys)
    assert first.training  # mode restored
    before = [s.router.keys.detach().clone() for s in first.stages]
    first.prepare(sample)
    assert any(not torch.equal(b, s.router.keys) for b, s in zip(before, first.stages))


def test_evaluation_diagnostics_of_a_bijective_and_a_uniform_router() -> None:
    backbone = pce(
        widths=[8, 8], patch_size=16, num_experts=4, router="positional", stem_channels=0
    ).eval()  # 2×2 grid
    backbone.begin_evaluation()
    with torch.no_grad():
        for _ in range(2):
            backbone(torch.randn(3, 3, 32, 32))
    out = backbone.end_evaluation()
    assert out["routing/mi_bits"] == pytest.approx(2.0)  # 4 positions ↔ 4 experts
    assert out["routing/entropy"] == pytest.approx(0.0, abs=1e-6)
    assert out["routing/load_balance"] == pytest.approx(1.0)
    assert out["routing/util_s1_e3"] == pytest.approx(0.25)
    assert out["routing/route_clusters"] == 4.0
    figures = backbone.evaluation_figures("val")
    assert [f.tag for f in figures] == ["routing_map", "routing_heatmap"]
    assert all(f.split == "val" and f.image.width > 100 for f in figures)
    assert "2.00" in figures[1].caption

    backbone.set_option("router", "uniform")[1]()
    backbone.begin_evaluation()
    with torch.no_grad():
        backbone(torch.randn(3, 3, 32, 32))
    out = backbone.end_evaluation()
    assert out["routing/mi_bits"] == pytest.approx(0.0)
    assert out["routing/entropy"] == pytest.approx(2.0)


def test_auxiliary_is_empty_before_any_forward_and_reports_the_last_one() -> None:
    backbone = _tiny(2, router="mlp")
    assert backbone.auxiliary() == {"losses": {}, "scalars": {}}
    backbone(torch.randn(2, 3, 32, 32))
    aux = backbone.auxiliary()
    aux["losses"]["load_balance"].backward()
    assert backbone.stages[0].router.mlp[2].weight.grad is not None
    shares = [aux["scalars"][f"routing/util_s1_e{i}"].item() for i in range(4)]
    assert sum(shares) == pytest.approx(1.0)


def test_set_option_validates_now_and_applies_on_commit() -> None:
    backbone = _tiny(2)
    shown, commit = backbone.set_option("router", "cosine")
    assert shown == "cosine" and backbone.router_name == "positional"
    commit()
    assert backbone.router_name == "cosine"
    shown, commit = backbone.set_option("noise_sigma", "0.3")
    commit()
    assert shown == 0.3 and all(s.router.noise_sigma == 0.3 for s in backbone.stages)
    backbone.set_option("attention", "on")[1]()
    assert backbone.attention is True
    shown, commit = backbone.set_option("expert.3", "off")
    assert shown == "off" and bool(backbone.active_experts[3])
    commit()
    backbone.eval()(torch.randn(1, 3, 32, 32))
    assert (backbone.auxiliary()["scalars"]["routing/util_s0_e3"] == 0).all()
    assert (backbone._last[0][..., 3] == 0).all()
    with pytest.raises(ValueError, match="allowed: cosine, gumbel"):
        backbone.set_option("router", "cosin")
    with pytest.raises(ValueError, match="> 0"):
        backbone.set_option("gumbel_tau", 0)
    with pytest.raises(ValueError, match="on or off"):
        backbone.set_option("expert.0", "maybe")
    with pytest.raises(KeyError, match="allowed: router"):
        backbone.set_option("expert.9", "off")
    for expert in range(3):
        backbone.set_option(f"expert.{expert}", "off")[1]() if expert < 2 else None
    with pytest.raises(ValueError, match="at least one"):
        backbone.set_option("expert.2", "off")
    assert "expert.3" in backbone.steerable_keys() and "attention" not in _tiny(1).steerable_keys()


def test_attention_starts_as_the_identity() -> None:
    backbone = _tiny(3).eval()
    x = torch.randn(2, 3, 32, 32)
    plain = backbone(x)
    backbone.set_option("attention", "on")[1]()
    torch.testing.assert_close(backbone(x), plain)


def test_freeze_presets_address_the_stages() -> None:
    assert list(backbone_stages(_tiny(3))) == ["stages.0", "stages.1", "stages.2"]
    assert list(backbone_stages(_tiny(2, stem_channels=8))) == ["stem", "stages.0", "stages.1"]


def test_stem_halves_the_map_before_the_stages() -> None:
    backbone = _tiny(2, stem_channels=8).eval()
    assert backbone.stride == 4
    assert backbone(torch.randn(1, 3, 32, 32)).shape == (1, 32, 8, 8)


def test_factory_rejects_bad_values_with_the_key() -> None:
    with pytest.raises(ConfigError, match="model.backbone.router: unknown router"):
        pce(router="cosin")
    with pytest.raises(ConfigError, match="model.backbone.kernel_size"):
        pce(kernel_size=2)
    with pytest.raises(ConfigError, match="model.backbone.top_k"):
        pce(top_k=5)


def _preset(name: str) -> dict:
    data = yaml.safe_load((PRESETS / f"{name}.yaml").read_text())
    data.pop("description")
    return data


def test_reference_preset_matches_the_pce_parameter_count_within_5_percent() -> None:
    with torch.device("meta"):
        counts = [
            sum(p.numel() for p in build_backbone(_preset(name), (64, 64)).parameters())
            for name in ("pce", "pce_reference")
        ]
        references = build_backbone(_preset("pce_reference"), (64, 64))
    assert math.isclose(counts[0], counts[1], rel_tol=0.05), counts
    assert references.stride == 8
    with torch.device("meta"):
        assert build_backbone(_preset("pce"), (64, 64)).stride == 8


def test_prepare_runs_once_a_resume_keeps_the_trained_keys() -> None:
    backbone = _tiny(2, router="cosine")
    backbone.prepare(torch.randn(8, 3, 32, 32))
    keys = [stage.router.keys.clone() for stage in backbone.stages]
    restored = _tiny(2, router="cosine")
    restored.load_state_dict(backbone.state_dict())
    restored.prepare(torch.randn(8, 3, 32, 32))  # a resume calls prepare again: nothing changes
    assert all(torch.equal(k, s.router.keys) for k, s in zip(keys, restored.stages))


def test_image_context_differs_from_patch_context_only_at_patch_borders() -> None:
    images = torch.randn(2, 3, 32, 32)
    outputs = {}
    for context in ("patch", "image"):
        for kernel in (1, 3):
            torch.manual_seed(0)
            backbone = pce(
                widths=[8], patch_size=8, kernel_size=kernel, stem_channels=0, expert_context=context
            )
            outputs[context, kernel] = backbone.eval()(images)
    assert torch.allclose(outputs["patch", 1], outputs["image", 1], atol=1e-6)  # a 1×1 conv has no neighbours
    inside = (slice(None), slice(None), slice(1, 7), slice(1, 7))  # the first patch away from its borders
    assert torch.allclose(outputs["patch", 3][inside], outputs["image", 3][inside], atol=1e-6)
    assert not torch.allclose(outputs["patch", 3], outputs["image", 3])
