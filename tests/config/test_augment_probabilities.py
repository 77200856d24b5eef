"""Augmentation probabilities (`augment.<name>_prob`) are settable mid-run and in schedule.changes."""

from __future__ import annotations

import pytest

from engine.core.errors import ConfigError
from engine.core.schedules.changes import check_value, settable_keys


def _cfg() -> dict:
    return {
        "loss": {"name": "detector"},
        "schedule": {"name": "cosine", "warmup_steps": 0},
        "augment": {"name": "det_yolox", "mosaic_prob": 0.5, "mixup_prob": 0.5, "degrees": 10.0},
        "train": {"max_steps": 100},
        "optim": {"lr": 1e-3},
    }


def test_every_probability_of_the_augment_section_is_settable() -> None:
    keys = settable_keys(_cfg())
    assert "augment.mosaic_prob" in keys and "augment.mixup_prob" in keys
    assert "augment.degrees" not in keys


def test_a_probability_is_checked_within_zero_and_one() -> None:
    assert check_value(_cfg(), "augment.mosaic_prob", 0.3) == pytest.approx(0.3)
    with pytest.raises(ConfigError, match=r"augment.mixup_prob.*probability in \[0, 1\]"):
        check_value(_cfg(), "augment.mixup_prob", 1.5)
    with pytest.raises(ConfigError, match="cannot set augment.degrees"):
        check_value(_cfg(), "augment.degrees", 5)
