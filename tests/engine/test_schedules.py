"""LR schedules equal torch's schedulers step by step, and the module stays torch-free."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.core.errors import ConfigError
from engine.core.schedules import SCHEDULES, YOLOX_LR_PER_IMG, lr_curve, lr_factor, yolox_base_lr

MAX_STEPS = 50


def torch_factors(make_scheduler, steps: int, lr: float = 1.0) -> list[float]:
    """LR of an optimizer (initial `lr`) over `steps` steps of the scheduler `make_scheduler(optimizer)`."""
    import torch

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make_scheduler(optimizer)
    factors = []
    for _ in range(steps):
        factors.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return factors


def ours(section: dict, max_steps: int = MAX_STEPS) -> list[float]:
    return [lr_factor(section, step, max_steps) for step in range(max_steps + 1)]


def assert_same(a: list[float], b: list[float]) -> None:
    assert len(a) == len(b)
    for step, (x, y) in enumerate(zip(a, b)):
        assert x == pytest.approx(y, rel=1e-9, abs=1e-12), f"step {step}: {x} vs {y}"


def test_cosine_equals_cosine_annealing() -> None:
    from torch.optim.lr_scheduler import CosineAnnealingLR

    expected = torch_factors(lambda opt: CosineAnnealingLR(opt, T_max=MAX_STEPS, eta_min=0.1), MAX_STEPS + 1)
    assert_same(ours({"name": "cosine", "warmup_steps": 0, "min_lr_ratio": 0.1}), expected)
    assert expected[-1] == pytest.approx(0.1)


def test_cosine_with_warmup_equals_linear_then_cosine() -> None:
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR

    warm = 10
    # Warmup for `warm` steps, then the cosine from the base LR over the remaining steps.
    expected = torch_factors(lambda opt: LinearLR(opt, start_factor=1 / (warm + 1), total_iters=warm), warm)
    expected += torch_factors(
        lambda opt: CosineAnnealingLR(opt, T_max=MAX_STEPS - warm), MAX_STEPS - warm + 1
    )
    assert_same(ours({"name": "cosine", "warmup_steps": warm, "min_lr_ratio": 0.0}), expected)


@pytest.mark.parametrize("power", [0.9, 1.0, 2.0])
def test_poly_equals_polynomial_lr(power: float) -> None:
    from torch.optim.lr_scheduler import PolynomialLR

    expected = torch_factors(lambda opt: PolynomialLR(opt, total_iters=MAX_STEPS, power=power), MAX_STEPS + 1)
    assert_same(ours({"name": "poly", "power": power, "warmup_steps": 0, "min_lr_ratio": 0.0}), expected)


def test_poly_with_warmup_and_floor() -> None:
    from torch.optim.lr_scheduler import LinearLR, PolynomialLR

    warm = 5
    expected = torch_factors(lambda opt: LinearLR(opt, start_factor=1 / (warm + 1), total_iters=warm), warm)
    expected += torch_factors(
        lambda opt: PolynomialLR(opt, total_iters=MAX_STEPS - warm, power=0.9), MAX_STEPS - warm + 1
    )
    assert_same(ours({"name": "poly", "power": 0.9, "warmup_steps": warm, "min_lr_ratio": 0.0}), expected)
    floored = ours({"name": "poly", "power": 0.9, "warmup_steps": warm, "min_lr_ratio": 0.2})
    assert_same(floored[warm:], [0.2 + 0.8 * f for f in expected[warm:]])


def test_constant_with_warmup_equals_linear_lr() -> None:
    from torch.optim.lr_scheduler import LinearLR

    expected = torch_factors(lambda opt: LinearLR(opt, start_factor=1 / 5, total_iters=4), MAX_STEPS + 1)
    assert_same(ours({"name": "constant", "warmup_steps": 4}), expected)
    assert expected[4:] == [1.0] * (MAX_STEPS - 3)


def test_after_max_steps_stays_at_floor() -> None:
    section = {"name": "cosine", "warmup_steps": 0, "min_lr_ratio": 0.05}
    assert lr_factor(section, MAX_STEPS + 100, MAX_STEPS) == pytest.approx(0.05)
    assert lr_factor({"name": "poly"}, 0, 0) == 0.0  # nothing to decay over: straight to the floor


def test_curve_and_errors() -> None:
    curve = lr_curve({"name": "cosine"}, 1000, points=11)
    assert [s for s, _ in curve] == list(range(0, 1001, 100))
    assert curve[0][1] == 1.0 and curve[-1][1] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ConfigError, match="schedule.name"):
        lr_factor({"name": "cosin"}, 0, 10)
    with pytest.raises(ConfigError, match="schedule.min_lr_ratio"):
        lr_factor({"name": "cosine", "min_lr_ratio": 2.0}, 0, 10)
    assert SCHEDULES.names() == ["constant", "cosine", "exponential", "multistep", "poly", "step", "warmcos"]


def test_import_leaves_torch_out(repo_root: Path) -> None:
    code = "import sys, engine.core.schedules; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


# -- step, multistep, exponential: against torch, alone and after a warmup (SequentialLR) --------------------
def linear_then(make_scheduler, warm: int, steps: int = MAX_STEPS + 1) -> list[float]:
    """torch's SequentialLR([LinearLR warmup of `warm` steps, the scheduler]) over `steps` steps."""
    from torch.optim.lr_scheduler import LinearLR, SequentialLR

    def make(opt):
        warmup = LinearLR(opt, start_factor=1 / (warm + 1), total_iters=warm)
        return SequentialLR(opt, [warmup, make_scheduler(opt)], milestones=[warm])

    return torch_factors(make, steps)


@pytest.mark.parametrize("warm", [0, 6])
@pytest.mark.parametrize(("step_size", "gamma"), [(7, 0.5), (1, 0.9), (100, 0.1)])
def test_step_equals_step_lr(warm: int, step_size: int, gamma: float) -> None:
    from torch.optim.lr_scheduler import StepLR

    make = lambda opt: StepLR(opt, step_size=step_size, gamma=gamma)  # noqa: E731
    expected = linear_then(make, warm) if warm else torch_factors(make, MAX_STEPS + 1)
    section = {"name": "step", "step_size": step_size, "gamma": gamma, "warmup_steps": warm}
    assert_same(ours(section), expected)


@pytest.mark.parametrize("warm", [0, 4])
def test_multistep_equals_multistep_lr(warm: int) -> None:
    from torch.optim.lr_scheduler import MultiStepLR

    milestones = [30, 3, 12, 12]  # unsorted, and a repeated milestone decays twice (as in torch)
    make = lambda opt: MultiStepLR(opt, milestones=milestones, gamma=0.3)  # noqa: E731
    expected = linear_then(make, warm) if warm else torch_factors(make, MAX_STEPS + 1)
    section = {"name": "multistep", "milestones": milestones, "gamma": 0.3, "warmup_steps": warm}
    assert_same(ours(section), expected)
    assert ours({"name": "multistep", "milestones": []}) == [1.0] * (MAX_STEPS + 1)


@pytest.mark.parametrize("warm", [0, 10])
def test_exponential_equals_exponential_lr(warm: int) -> None:
    from torch.optim.lr_scheduler import ExponentialLR

    make = lambda opt: ExponentialLR(opt, gamma=0.93)  # noqa: E731
    expected = linear_then(make, warm) if warm else torch_factors(make, MAX_STEPS + 1)
    assert_same(ours({"name": "exponential", "gamma": 0.93, "warmup_steps": warm}), expected)


# -- warmup ramps ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("start", [0.01, 0.25, None])
def test_exponential_warmup_equals_exponential_lr_ramp(start: float | None) -> None:
    from torch.optim.lr_scheduler import ExponentialLR, StepLR

    warm = 8
    s = 1 / (warm + 1) if start is None else start
    # Geometric ramp: ExponentialLR with gamma = (1/s)^(1/warm) from s × base LR, then the schedule from 1.
    expected = torch_factors(lambda opt: ExponentialLR(opt, gamma=(1 / s) ** (1 / warm)), warm, lr=s)
    expected += torch_factors(lambda opt: StepLR(opt, step_size=5, gamma=0.5), MAX_STEPS - warm + 1)
    section = {
        "name": "step",
        "step_size": 5,
        "gamma": 0.5,
        "warmup_steps": warm,
        "warmup_type": "exponential",
        "warmup_lr_start": start,
    }
    assert_same(ours(section), expected)


def test_linear_warmup_from_a_given_start_equals_linear_lr() -> None:
    from torch.optim.lr_scheduler import LinearLR

    expected = torch_factors(lambda opt: LinearLR(opt, start_factor=0.2, total_iters=10), MAX_STEPS + 1)
    assert_same(ours({"name": "constant", "warmup_steps": 10, "warmup_lr_start": 0.2}), expected)


def test_quadratic_warmup_formula() -> None:
    warm, start = 12, 0.1
    got = ours({"name": "cosine", "warmup_steps": warm, "warmup_type": "quadratic", "warmup_lr_start": start})
    assert_same(got[:warm], [start + (1 - start) * (s / warm) ** 2 for s in range(warm)])
    assert (
        got[warm] == 1.0
        and lr_factor({"name": "constant", "warmup_steps": 4, "warmup_type": "quadratic"}, 0, 10) == 0.0
    )


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"name": "constant", "warmup_steps": 3, "warmup_type": "cubic"}, "schedule.warmup_type"),
        (
            {"name": "constant", "warmup_steps": 3, "warmup_type": "exponential", "warmup_lr_start": 0.0},
            "schedule.warmup_lr_start",
        ),
        ({"name": "cosine", "warmup_lr_start": 1.5}, "schedule.warmup_lr_start"),
        ({"name": "cosine", "warmup_steps": -1}, "schedule.warmup_steps"),
        ({"name": "step", "step_size": 0}, "schedule.step_size"),
        ({"name": "step", "gamma": 0.0}, "schedule.gamma"),
        ({"name": "multistep", "milestones": [10, -1]}, "schedule.milestones"),
        ({"name": "multistep", "milestones": 10}, "schedule.milestones"),
        ({"name": "warmcos", "no_aug_steps": -5}, "schedule.no_aug_steps"),
    ],
)
def test_bad_params_name_the_key(section: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        lr_factor(section, 0, 10)
    assert err.value.key == key


# -- YOLOX warmcos ---------------------------------------------------------------------------------------
def yolox_warm_cos_lr(
    lr: float,
    min_lr_ratio: float,
    total_iters: int,
    warmup_total_iters: int,
    warmup_lr_start: float,
    no_aug_iter: int,
    iters: int,
) -> float:
    """YOLOX's yolox/utils/lr_scheduler.py::yolox_warm_cos_lr, written out (absolute LRs)."""
    min_lr = lr * min_lr_ratio
    if iters <= warmup_total_iters:
        return (lr - warmup_lr_start) * pow(iters / float(warmup_total_iters), 2) + warmup_lr_start
    if iters >= total_iters - no_aug_iter:
        return min_lr
    return min_lr + 0.5 * (lr - min_lr) * (
        1.0
        + math.cos(math.pi * (iters - warmup_total_iters) / (total_iters - warmup_total_iters - no_aug_iter))
    )


@pytest.mark.parametrize(
    ("total", "warm", "no_aug", "ratio", "start"),
    [(300, 30, 45, 0.05, 0.0), (240, 5, 0, 0.2, 0.001), (200, 50, 150, 0.05, 0.0)],
)
def test_warmcos_matches_yolox(total: int, warm: int, no_aug: int, ratio: float, start: float) -> None:
    lr = yolox_base_lr(YOLOX_LR_PER_IMG, 16)  # YOLOX: 0.01 / 64 per image × batch
    section = {
        "name": "warmcos",
        "warmup_steps": warm,
        "no_aug_steps": no_aug,
        "min_lr_ratio": ratio,
        "warmup_lr_start": start / lr,
    }
    # YOLOX's optimizer step at 0-based iteration `it` uses update_lr(it) (set after the previous step).
    for it in range(total + 20):
        expected = yolox_warm_cos_lr(lr, ratio, total, warm, start, no_aug, it)
        assert lr * lr_factor(section, it, total) == pytest.approx(expected, rel=1e-9, abs=1e-15), it


def test_yolox_base_lr() -> None:
    assert yolox_base_lr(0.01 / 64, 64) == pytest.approx(0.01)
    assert yolox_base_lr(1e-4, 48) == pytest.approx(4.8e-3)
    with pytest.raises(ConfigError, match="train.batch_size"):
        yolox_base_lr(1e-4, 0)
    with pytest.raises(ConfigError, match="optim.lr_per_img"):
        yolox_base_lr(-1e-4, 8)


def test_every_preset_draws_a_curve(repo_root: Path) -> None:
    for entry in SCHEDULES:
        section = yaml.safe_load((repo_root / "presets" / "schedule" / f"{entry.name}.yaml").read_text())
        curve = lr_curve(section, 500, points=50)
        assert len(curve) == 50 and all(0.0 <= f <= 1.0 for _, f in curve), entry.name
