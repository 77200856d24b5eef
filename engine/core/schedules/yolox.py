"""YOLOX's LR recipe in steps: the "yoloxwarmcos" schedule and the LR-per-image base-LR rule.

YOLOX (Megvii-BaseDetection/YOLOX, `yolox/utils/lr_scheduler.py::yolox_warm_cos_lr`) sets, at
iteration `it` of `total` with `warmup` warmup and `no_aug` final iterations:

- it <= warmup:            (lr - warmup_lr_start) * (it / warmup)² + warmup_lr_start
- it >= total - no_aug:    min_lr = lr * min_lr_ratio
- otherwise:               min_lr + 0.5 (lr - min_lr) (1 + cos(π (it - warmup) / (total - warmup - no_aug)))

and uses it for the optimizer step at 0-based iteration `it` (the trainer applies update_lr(it + 1)
after step `it`, and the optimizer starts at warmup_lr_start). Here the same function of `step`
returns a multiplier of the base LR, so `warmup_lr_start` is a fraction of the base LR; YOLOX's default,
0, is the same either way. YOLOX counts epochs (warmup_epochs, no_aug_epochs); the engine converts
epochs to steps, so the keys are `warmup_steps` and `no_aug_steps`.

The base LR itself is YOLOX's `basic_lr_per_img × batch_size` (0.01 / 64 per image): a preset expresses
it through the optimizer section's LR-per-image key, which the engine turns into `optim.lr` with
`yolox_base_lr(lr_per_img, train.batch_size)` before building the optimizer.
"""

from __future__ import annotations

import math

from engine.core.errors import ConfigError
from engine.core.schedules.common import SCHEDULES, check_int, check_ratio, warmup_factor

#: YOLOX's `basic_lr_per_img` (yolox/exp/yolox_base.py): 0.01 for a batch of 64.
YOLOX_LR_PER_IMG = 0.01 / 64.0


def yolox_base_lr(lr_per_img: float, batch_size: int) -> float:
    """The base LR YOLOX derives from an LR per image: lr_per_img × batch_size (linear scaling rule).

    Args:
        lr_per_img: LR per training image (YOLOX: 0.01 / 64).
        batch_size: Images per optimizer step, over all devices.

    Raises:
        ConfigError: `lr_per_img` is negative or `batch_size` is not a positive integer.
    """
    if isinstance(lr_per_img, bool) or not isinstance(lr_per_img, (int, float)) or lr_per_img < 0:
        raise ConfigError("optim.lr_per_img", f"expected a number >= 0, got {lr_per_img!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError("train.batch_size", f"expected a positive integer, got {batch_size!r}")
    return float(lr_per_img) * batch_size


@SCHEDULES.register("warmcos")
def warmcos(
    step: int,
    max_steps: int,
    warmup_steps: int = 0,
    warmup_type: str = "quadratic",
    warmup_lr_start: float = 0.0,
    min_lr_ratio: float = 0.05,
    no_aug_steps: int = 0,
) -> float:
    """YOLOX warmcos: quadratic warmup, cosine to min_lr_ratio, then constant for the last no_aug_steps."""
    check_ratio(min_lr_ratio)
    check_int("no_aug_steps", no_aug_steps, 0)
    warm = warmup_factor(step, warmup_steps, warmup_type, warmup_lr_start)
    if warm is not None:
        return warm
    if warmup_steps and step == warmup_steps:
        return 1.0  # YOLOX's warmup includes its last step (it <= warmup), even with no cosine after it
    if step >= max_steps - no_aug_steps:
        return min_lr_ratio
    # Here warmup_steps < step < max_steps - no_aug_steps, so the cosine span is positive.
    t = (step - warmup_steps) / (max_steps - warmup_steps - no_aug_steps)
    return min_lr_ratio + 0.5 * (1.0 - min_lr_ratio) * (1.0 + math.cos(math.pi * t))
