"""Models that report more than a loss (engine.models.aux_outputs) and user backbones from `module:Class`."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.core.config import resolve_config
from engine.core.errors import ConfigError
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    write_json_atomic,
)
from engine.models.aux_outputs import (
    begin_evaluation,
    collect_auxiliary,
    end_evaluation,
    evaluation_figures,
    with_auxiliary,
    with_measured,
)
from engine.models.backbones import build_backbone
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.trainer import Trainer
from tests.engine.seg_cls_data import cls_overrides, tiny_cls  # noqa: F401

# A user's module as a researcher would write it: a backbone following the contract that also reports an
# auxiliary loss, a routing scalar, evaluation measurements and a figure.
USER_MODULE = """
import torch
from PIL import Image
from torch import nn

from engine.figures import Figure


class RoutedNet(nn.Module):
    def __init__(self, width=8, balance=0.5):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, stride=4, padding=1)
        self.out_channels, self.stride, self.balance = width, 4, balance
        self.seen = 0

    def forward(self, x):
        if not self.training:
            self.seen += x.shape[0]
        return torch.relu(self.conv(x))

    def auxiliary(self):
        tied = self.conv.weight.sum() * 0  # a constant that still reaches the weights' graph
        return {"losses": {"load_balance": tied + self.balance}, "scalars": {"routing/entropy": torch.tensor(1.25)}}

    def prepare(self, sample_images):
        self.prepared = tuple(sample_images.shape)

    def begin_evaluation(self):
        self.seen = 0

    def end_evaluation(self):
        return {"routing/images": float(self.seen), "routing/entropy": 1.5}

    def evaluation_figures(self, split):
        return [Figure(split, "routing_map", Image.new("RGB", (8, 8)), f"routes on {split}")]


class NoStride(nn.Module):
    out_channels = 8

    def forward(self, x):
        return x


class WrongShape(nn.Module):
    out_channels, stride = 8, 4

    def forward(self, x):
        return x[:, :2]


NotAModule = dict
"""


@pytest.fixture
def user_module(tmp_path: Path) -> Iterator[str]:
    """The user module above, importable as `aux_user_nets` (a folder put on sys.path)."""
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / "aux_user_nets.py").write_text(textwrap.dedent(USER_MODULE), encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        yield "aux_user_nets"
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("aux_user_nets", None)


class Reporter(nn.Module):
    """A stage reporting a loss and a scalar of fixed values."""

    def __init__(self, loss: float, entropy: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))
        self.loss, self.entropy = loss, entropy

    def auxiliary(self) -> dict[str, dict[str, torch.Tensor]]:
        return {
            "losses": {"load_balance": self.weight * self.loss},
            "scalars": {"routing/entropy": torch.tensor(self.entropy)},
        }

    def end_evaluation(self) -> dict[str, float]:
        return {"routing/entropy": self.entropy, "top1": -1.0, "routing/bad": float("nan")}


def test_aux_losses_join_the_total_weighted_and_scalars_keep_their_group() -> None:
    model = nn.Sequential(Reporter(0.5, 1.0), Reporter(0.25, 2.0))  # two stages, same names
    losses, scalars = collect_auxiliary(model)
    assert float(losses["load_balance"].detach()) == pytest.approx(0.75)  # summed over the stages
    assert float(scalars["routing/entropy"]) == pytest.approx(1.5)  # averaged
    main = torch.tensor(2.0, requires_grad=True)
    total, parts = with_auxiliary(model, main, {"loss/ce": main.detach()}, {"load_balance": 0.1})
    assert float(total.detach()) == pytest.approx(2.0 + 0.1 * 0.75)
    assert set(parts) == {"loss/ce", "loss/load_balance", "routing/entropy"}
    assert float(parts["loss/load_balance"]) == pytest.approx(0.075)  # logged weighted
    total.backward()
    assert float(model[0].weight.grad) == pytest.approx(0.1 * 0.5)  # the aux loss trains the model
    _, parts = with_auxiliary(model, main, {"loss/load_balance": main.detach()}, {})
    assert float(parts["loss/aux_load_balance"]) == pytest.approx(0.75)  # default weight 1, name taken


def test_evaluation_values_follow_the_tasks_own() -> None:
    model = nn.Sequential(Reporter(0.5, 1.0), Reporter(0.25, 2.0))
    begin_evaluation(model)  # no module has it: nothing happens
    measured = end_evaluation(model)
    assert measured == {"routing/entropy": 1.5, "top1": -1.0}  # NaN left out
    assert with_measured({"top1": 80.0}, measured) == {"top1": 80.0, "routing/entropy": 1.5}
    assert evaluation_figures(model, "val") == []


def test_aux_scalar_may_not_take_a_trainer_name() -> None:
    class Bad(nn.Module):
        def auxiliary(self) -> dict[str, dict[str, torch.Tensor]]:
            return {"scalars": {"lr/experts": torch.tensor(1.0)}}

    with pytest.raises(ValueError, match="auxiliary scalar 'lr/experts' of Bad takes a name the trainer"):
        collect_auxiliary(Bad())


def test_aux_weights_in_the_loss_section() -> None:
    cfg = resolve_config("cls_demo", ["loss.aux_weights.load_balance=0.01"])
    assert cfg["loss"]["aux_weights"] == {"load_balance": 0.01}
    assert "aux_weights" not in resolve_config("cls_demo")["loss"]  # absent: every aux loss weighs 1
    for override, message in (
        ("loss.aux_weights.load_balance=-1", "loss.aux_weights.load_balance: must be ≥ 0"),
        ("loss.aux_weights.load_balance=x", "loss.aux_weights.load_balance: expected a number"),
        ("loss.aux_weights=3", "loss.aux_weights: expected a mapping of auxiliary loss name to weight"),
    ):
        with pytest.raises(ConfigError, match=message):
            resolve_config("cls_demo", [override])


def test_user_backbone_contract_errors(user_module: str) -> None:
    key = "model.backbone.name"
    cases = {
        f"{user_module}:Nope": f"{key}: module {user_module} has no 'Nope'",
        "no_such_module_xyz:Net": f"{key}: no module 'no_such_module_xyz' to import Net from",
        f"{user_module}:NoStride": f"{key}: {user_module}:NoStride has no int attribute stride",
        f"{user_module}:WrongShape": "maps a 1×3×64×64 image to 1×2×64×64, but its out_channels 8 and stride 4 "
        "promise 1×8×16×16",
        f"{user_module}:NotAModule": "built a dict, not an nn.Module",
    }
    for name, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            build_backbone({"name": name})
    with pytest.raises(ConfigError, match=r"RoutedNet\(...\) failed with keys depth: TypeError"):
        build_backbone({"name": f"{user_module}:RoutedNet", "depth": 3})
    with pytest.raises(ConfigError, match="'a:b:c' is not a user class name"):
        resolve_config("cls_demo", ["model.backbone.name=a:b:c"])
    net = build_backbone({"name": f"{user_module}:RoutedNet", "width": 6})
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 6, 8, 8)


def test_classification_run_with_a_user_backbone_logs_what_it_reports(
    tiny_cls: Path,
    tmp_path: Path,
    user_module: str,
) -> None:
    cfg = resolve_config(
        "cls_demo",
        [
            f"model.backbone.name={user_module}:RoutedNet",
            *cls_overrides(tiny_cls, 3),
            "loss.aux_weights.load_balance=0.1",
            "eval.figures=true",
        ],
    )
    assert cfg["model"]["backbone"] == {
        "preset": f"{user_module}:RoutedNet",
        "name": f"{user_module}:RoutedNet",
        "width": 8,
    }
    paths = create_run(tmp_path / "runs", "aux")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "aux", "classification", [], max_steps=3))
    runtime = make_runtime(cfg["device"])
    task = TASKS.build("classification", cfg, runtime, seed_everything(0))
    images, labels = task.next_batch()
    total, parts = task.compute_loss(images, labels)
    assert float(total.detach()) == pytest.approx(float(parts["loss/ce"]) + 0.1 * 0.5, abs=1e-5)
    events = EventWriter(paths.events)
    status = Trainer(
        paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events)
    ).train()
    events.close()
    assert status == "completed"
    assert task.model.backbone.prepared[:2] == (48, 3)  # every training image (fewer than PREPARE_IMAGES)
    found = list(iter_events(paths.events))
    scalars = [e["values"] for e in found if e["kind"] == "scalar"]
    assert all(
        v["loss/load_balance"] == pytest.approx(0.05) and v["routing/entropy"] == 1.25 for v in scalars
    )
    assert all(v["loss/total"] == pytest.approx(v["loss/ce"] + 0.05, abs=1e-4) for v in scalars)
    final = [e for e in found if e["kind"] == "eval"][-2:]
    assert list(final[0]["metrics"]) == ["top1", "top5", "routing/images", "routing/entropy"]
    assert final[0]["metrics"]["routing/images"] == 24  # val: 3 images of each of the 8 classes
    assert {(e["tag"], e["split"]) for e in found if e["kind"] == "image"} >= {("routing_map", "val")}


def test_export_plots_a_png_per_reported_group(tmp_path: Path) -> None:
    from engine.plots import plot_curves

    scalars = {
        1: {
            "loss/total": 1.0,
            "lr/head": 0.1,
            "routing/entropy": 1.2,
            "routing/util_s0_e0": 0.4,
            "gpu1/mem": 3.0,
        },
        2: {"loss/total": 0.5, "lr/head": 0.1, "routing/entropy": 1.1, "routing/util_s0_e0": 0.6},
    }
    evals = [(2, "val", "top1", 50.0), (2, "val", "routing/entropy", 1.3)]
    run = {"name": "pce", "metric_order": ["top1"], "scalars": scalars, "evals": evals}
    written = [p.name for p in plot_curves([run], tmp_path)]
    assert written == ["loss.png", "lr.png", "routing.png", "val_top1.png", "val_routing_entropy.png"]
    assert all((tmp_path / name).is_file() for name in written)  # a metric's '/' no longer names a folder
