"""Aggregators and heads: shapes, out_dim, CLS, NetVLAD k-means, lazy MixVPR, SALAD transport, MLP options."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml

from engine.core.errors import ConfigError, UserError
from engine.models import AGGREGATORS, build_aggregator, build_head, build_vpr_model
from engine.models.aggregator_init import initialise_aggregator, materialize_lazy
from engine.models.netvlad import kmeans_centroids
from engine.models.salad import sinkhorn_assignment
from engine.param_counts import parameter_table

C, H, W = 32, 4, 5
# Small parameters for forward/backward; the presets' defaults are checked for out_dim only.
SMALL = {
    "netvlad": {"clusters": 4},
    "mixvpr": {"out_channels": 8, "mix_depth": 2},
    "salad": {"num_clusters": 4, "cluster_dim": 8, "token_dim": 6},
    "boq": {"num_queries": 4, "num_layers": 2, "row_dim": 3, "proj_channels": 16},
}
# Descriptor size of each preset for C input channels: what `check` reports, known before any forward.
PRESET_DIMS = {
    "avg": C,
    "max": C,
    "gem": C,
    "cls": C,
    "netvlad": 64 * C,
    "mixvpr": 512 * 4,
    "salad": 256 + 64 * 128,
    "boq": 512 * 32,
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """One intra-op thread: the CPU is shared, and small ops only pay for thread hand-offs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _preset(repo_root: Path, name: str) -> dict:
    data = yaml.safe_load((repo_root / "presets" / "aggregator" / f"{name}.yaml").read_text())
    data.pop("description")
    return data


@pytest.mark.parametrize("name", sorted(set(AGGREGATORS.names()) - {"cls"}))
def test_every_aggregator_forward_backward(name: str) -> None:
    aggregator = build_aggregator({"name": name, **SMALL.get(name, {})}, C)
    out_dim = aggregator.out_dim  # known before the first forward
    x = torch.randn(2, C, H, W, requires_grad=True)
    out = aggregator(x)
    (out * torch.randn_like(out)).sum().backward()  # a random direction: |out| is constant when normalised
    assert out.shape == (2, out_dim)
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in aggregator.parameters()), name


@pytest.mark.parametrize("name", AGGREGATORS.names())
def test_preset_descriptor_sizes(repo_root: Path, name: str) -> None:
    with torch.device("meta"):  # sizes only: skip allocating the 16k-wide BoQ and friends
        aggregator = build_aggregator(_preset(repo_root, name), C)
    assert aggregator.out_dim == PRESET_DIMS[name]


def test_cls_takes_a_cls_token_and_explains_anything_else() -> None:
    cls = build_aggregator({"name": "cls"}, C)
    token = torch.randn(2, C, 1, 1)
    torch.testing.assert_close(cls(token), token.flatten(1))
    for name in ("avg", "max"):  # pooling a 1×1 map passes the token through
        torch.testing.assert_close(build_aggregator({"name": name}, C)(token), token.flatten(1))
    with pytest.raises(ConfigError, match="output=cls") as err:
        cls(torch.randn(2, C, H, W))
    assert err.value.key == "model.aggregator.name" and "4×5 feature map" in str(err.value)


def test_netvlad_kmeans_init_sets_centroids() -> None:
    torch.manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(4, C), dim=1) * 5
    features = (centres[:, None] + 0.1 * torch.randn(4, 50, C)).reshape(-1, C)  # 4 blobs of 50
    netvlad = build_aggregator({"name": "netvlad", "clusters": 4}, C)
    assert not netvlad.initialised
    netvlad.init_from_features(features, seed=3)
    expected = kmeans_centroids(torch.nn.functional.normalize(features, dim=1), 4, seed=3)
    torch.testing.assert_close(netvlad.centroids.data, expected)
    assert netvlad.initialised
    # The assignment conv now picks, for each feature, the centre k-means put it with.
    unit = torch.nn.functional.normalize(features, dim=1)
    logits = netvlad.assign(unit[:, :, None, None]).flatten(1)  # N×K
    assert torch.equal(logits.argmax(1), torch.cdist(unit, expected).argmin(1))
    with pytest.raises(UserError, match="at least 4 local features"):
        netvlad.init_from_features(features[:3])


def _tiny_model(aggregator: dict) -> torch.nn.Module:
    backbone = {"name": "plain_cnn", "depth": 2, "width": 8}  # 8 channels at stride 2
    return build_vpr_model(
        {
            "backbone": backbone,
            "aggregator": aggregator,
            "head": {"name": "linear"},
            "descriptor_dim": 16,
            "image_size": [32, 32],
        }
    )


def test_initialise_aggregator_samples_backbone_features() -> None:
    model = _tiny_model({"name": "netvlad", "clusters": 8})
    bn = model.backbone.layers[0][1]
    running_mean = bn.running_mean.clone()
    batches = [(torch.randn(2, 3, 32, 32), torch.zeros(2)) for _ in range(5)]  # DataLoader-style tuples
    used = initialise_aggregator(model, iter(batches), max_descriptors=300)
    assert used == 300  # 2 images × 16×16 cells = 512 per batch: one batch is enough, then subsampled
    assert model.aggregator.initialised and model.training
    assert torch.equal(bn.running_mean, running_mean)  # backbone ran in eval mode
    assert initialise_aggregator(model, batches) == 0  # already initialised: nothing read
    assert initialise_aggregator(_tiny_model({"name": "gem"}), batches) == 0


def test_mixvpr_sizes_itself_lazily_and_eagerly() -> None:
    lazy = build_aggregator({"name": "mixvpr", **SMALL["mixvpr"]}, C)
    eager = build_aggregator({"name": "mixvpr", **SMALL["mixvpr"], "feature_hw": [H, W]}, C)
    optimizer = torch.optim.SGD(lazy.parameters(), lr=1.0)  # made before the sizes are known
    x = torch.randn(2, C, H, W)
    lazy(x).sum().backward()
    before = lazy.mix[0].fc1_weight.detach().clone()
    optimizer.step()
    assert not torch.equal(lazy.mix[0].fc1_weight, before)  # the optimizer holds the materialised tensors
    shapes = {n: p.shape for n, p in eager.named_parameters()}
    assert {n: p.shape for n, p in lazy.named_parameters()} == shapes
    fresh = build_aggregator({"name": "mixvpr", **SMALL["mixvpr"]}, C)
    fresh.load_state_dict(lazy.state_dict())  # a checkpoint sizes a lazy model (resume)
    torch.testing.assert_close(fresh(x), lazy(x))
    with pytest.raises(ConfigError, match="sized for 20 feature-map cells, got 5×5"):
        eager(torch.randn(2, C, 5, 5))  # e.g. evaluating at another image size
    with pytest.raises(ConfigError, match="feature_hw"):
        build_aggregator({"name": "mixvpr", "feature_hw": [4]}, C)


def test_materialize_lazy_lets_the_parameter_table_count() -> None:
    model = _tiny_model({"name": "mixvpr", **SMALL["mixvpr"]})
    materialize_lazy(
        model, (32, 32)
    )  # build_vpr_model has usually sized it already; a second call is a no-op
    rows = {row["group"]: row for row in parameter_table(model.module_groups())}
    cells = 16 * 16
    mixer = 2 * cells + 2 * cells * cells + 2 * cells  # LayerNorm, two cells×cells linears with biases
    assert rows["aggregator"]["params"] == 2 * mixer + (8 * 8 + 8) + (cells * 4 + 4)  # 8 backbone channels
    assert not materialize_lazy(model, (32, 32))


def test_salad_transport_and_global_token() -> None:
    scores = torch.randn(2, 4, 20)
    plan = sinkhorn_assignment(scores, torch.tensor(1.0), iters=50)  # B×m×n
    # Each cluster receives one cell's worth of mass.
    torch.testing.assert_close(plan.sum(dim=2), torch.ones(2, 4), atol=1e-3, rtol=0)
    assert (plan.sum(dim=1) <= 1 + 1e-4).all()  # a cell gives at most its mass; the dustbin takes the rest
    assert torch.isfinite(sinkhorn_assignment(torch.randn(1, 8, 3), torch.tensor(1.0))).all()  # fewer cells
    salad = build_aggregator({"name": "salad", **SMALL["salad"], "dropout": 0.0}, C).eval()
    x = torch.randn(2, C, H, W)
    torch.testing.assert_close(salad(x), salad(x, x.mean(dim=(-2, -1))))
    assert not torch.allclose(salad(x), salad(x, torch.randn(2, C)))


@pytest.mark.parametrize(("layers", "norm"), [(1, "none"), (2, "bn"), (3, "ln")])
def test_mlp_head_options(layers: int, norm: str) -> None:
    head = build_head({"name": "mlp", "hidden_dim": 12, "layers": layers, "norm": norm}, 20, 8)
    linears = [m for m in head.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == layers and linears[0].in_features == 20 and head.out_dim == 8
    norms = {"none": (), "bn": (torch.nn.BatchNorm1d,), "ln": (torch.nn.LayerNorm,)}[norm]
    assert sum(isinstance(m, norms) for m in head.modules()) == (layers - 1 if norms else 0)
    assert head(torch.randn(4, 20)).shape == (4, 8)
    with pytest.raises(ConfigError, match="model.head.norm"):
        build_head({"name": "mlp", "norm": "group"}, 20, 8)
