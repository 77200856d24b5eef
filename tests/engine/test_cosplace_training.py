"""CosFace over CosPlace groups: one classifier per group, the groups trained in turn, through the real loop."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.core.errors import ConfigError
from engine.core.protocol import iter_events
from engine.data.place_sampler import ClassBatchSampler, PlaceBatchSampler
from engine.losses import LOSSES
from engine.tasks.vpr import check_batch_layout
from tests.engine.test_trainer import train

# groups of 2 classes across (east cell mod 2): the tiny city's 40 places fall in a handful of groups
SMALL_GROUPS = (
    "loss=cosplace",
    "loss.cosplace={cell_m: 10, groups_n: 2, groups_l: 1, groups_num: 2, iterations_per_group: 2, "
    "min_images_per_class: 1}",
)


def test_only_the_current_groups_classifier_moves() -> None:
    loss = LOSSES.build("cosface", 8, [3, 4], cosplace={"groups_l": 1})
    optimizer = torch.optim.AdamW(loss.parameters(), lr=0.1)
    before = [group.weight.detach().clone() for group in loss.groups]
    descriptors = torch.nn.functional.normalize(torch.randn(3, 8), dim=1)
    value = loss(descriptors, torch.tensor([3, 5, 6]))  # classes 3..6 are group 1's
    value.backward()
    optimizer.step()
    assert loss.last_group == 1 and loss.groups[0].weight.grad is None
    assert torch.equal(loss.groups[0].weight, before[0]) and not torch.equal(loss.groups[1].weight, before[1])
    with pytest.raises(ValueError, match="one group"):
        loss(descriptors, torch.tensor([0, 1, 4]))


def test_cosplace_is_not_a_loss_mix_component() -> None:
    with pytest.raises(ConfigError, match="loss-mix component"):
        LOSSES.build("cosface", 8, 10, cosplace={})


def test_pair_losses_still_need_two_images_per_place() -> None:
    pairs = LOSSES.build("multi_similarity", 8, 10)
    with pytest.raises(ConfigError, match="at least 2 per place"):
        check_batch_layout(pairs, {"images_per_place": 1})
    assert check_batch_layout(LOSSES.build("arcface", 8, 10), {"images_per_place": 1})


def test_cosplace_groups_train_in_turn(tmp_path: Path, tiny_city: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    samplers: list[object] = []
    original = ClassBatchSampler.__init__

    def remember(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        samplers.append(self)

    monkeypatch.setattr(ClassBatchSampler, "__init__", remember)
    run_dir, status = train(tmp_path, tiny_city, *SMALL_GROUPS, steps=5)
    assert status == "completed"
    scalars = [e["values"] for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "scalar"]
    assert [s["cosplace/group"] for s in scalars] == [0, 0, 1, 1, 0]
    assert all(torch.isfinite(torch.tensor(s["loss/cosface"])) for s in scalars)
    (sampler,) = samplers
    assert (
        isinstance(sampler, ClassBatchSampler) and sampler.batch_size == 8
    )  # 4 places × 2 -> 8 classes, one image each
    assert len(sampler.group_sizes) == 2


def test_plain_cosface_draws_one_image_per_place(tmp_path: Path, tiny_city: Path) -> None:
    from engine.core.config import resolve_config
    from engine.runtime import make_runtime, seed_everything
    from engine.tasks import TASKS
    from tests.engine.conftest import tiny_overrides

    def sampler_of(*extra: str) -> object:
        cfg = resolve_config("demo", [*tiny_overrides(tiny_city), *extra])
        task = TASKS.build("vpr", cfg, make_runtime(cfg["device"]), seed_everything(0))
        task.close()
        return task.sampler

    assert isinstance(sampler_of("loss=cosface"), ClassBatchSampler)
    assert isinstance(sampler_of("loss=multi_similarity"), PlaceBatchSampler)


def test_check_says_the_classes_and_groups(tiny_city: Path) -> None:
    from engine.core.config import resolve_config
    from engine.tasks.vpr import vpr_summary
    from tests.engine.conftest import tiny_overrides

    summary = vpr_summary(resolve_config("demo", [*tiny_overrides(tiny_city), *SMALL_GROUPS]))
    assert "classes: CosPlace M 10 m, α 30°, N 2, L 1: 40 classes in" in summary["data"]["line"]
    with pytest.raises(ConfigError, match="fewer than a batch of 40"):
        vpr_summary(
            resolve_config("demo", [*tiny_overrides(tiny_city), *SMALL_GROUPS, "train.places_per_batch=20"])
        )
