"""LR schedules equal torch's schedulers step by step, and the module stays torch-free."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.schedules import SCHEDULES, lr_curve, lr_factor

MAX_STEPS = 50


def torch_factors(make_scheduler, steps: int) -> list[float]:  # noqa: ANN001
    """LR of an lr=1 optimizer over `steps` steps of the scheduler `make_scheduler(optimizer)` returns."""
    import torch

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
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
    expected += torch_factors(lambda opt: CosineAnnealingLR(opt, T_max=MAX_STEPS - warm),
                              MAX_STEPS - warm + 1)
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
    expected += torch_factors(lambda opt: PolynomialLR(opt, total_iters=MAX_STEPS - warm, power=0.9),
                              MAX_STEPS - warm + 1)
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
    assert SCHEDULES.names() == ["constant", "cosine", "poly"]


def test_import_leaves_torch_out(repo_root: Path) -> None:
    code = "import sys, engine.schedules; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
