"""Tiny synthetic segmentation and classification sets (made once per module that imports the fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

SEG_SIZE = dict(train_images=24, val_images=8, test_images=8)
CLS_SIZE = dict(train_per_class=6, test_per_class=3)


@pytest.fixture(scope="session")
def tiny_seg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 train scenes, 8 val, 8 fog, at 64×96 (single process: too small for the pool)."""
    from engine.data.synth_seg import make_synth_seg

    root = tmp_path_factory.mktemp("seg")
    make_synth_seg(root, seed=0, **SEG_SIZE)
    return root


@pytest.fixture(scope="session")
def tiny_cls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 shape classes × 6 train images, 3 per class in val and noisy, at 64×64."""
    from engine.data.synth_cls import make_synth_cls

    root = tmp_path_factory.mktemp("cls")
    make_synth_cls(root, seed=0, **CLS_SIZE)
    return root


@pytest.fixture(scope="session")
def tiny_det(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Street scenes with boxed cars, people and signs: 8 train, 4 val, 4 dusk, at 64×96."""
    from engine.data.synth_det import make_synth_det

    root = tmp_path_factory.mktemp("det")
    make_synth_det(root, seed=0, train_images=8, val_images=4, test_images=4, image_size=(64, 96))
    return root


def seg_overrides(root: Path, steps: int = 3) -> list[str]:
    """seg_demo shrunk for a test: plain CNN of width 8, FPN of 16 channels, batch 4, eval at start and end."""
    return [
        f"data.root={root}",
        "data.synthetic=false",
        f"train.max_steps={steps}",
        "train.batch_size=4",
        "train.log_every=1",
        "train.eval_every=0",
        "model.backbone.width=8",
        "model.head.channels=16",
        "eval.batch_size=16",
        "device.threads=1",
    ]


def cls_overrides(root: Path, steps: int = 3) -> list[str]:
    """cls_demo shrunk for a test: plain CNN of width 8, batch 8, eval at start and end."""
    return [
        f"data.root={root}",
        "data.synthetic=false",
        f"train.max_steps={steps}",
        "train.batch_size=8",
        "train.log_every=1",
        "train.eval_every=0",
        "model.backbone.width=8",
        "eval.batch_size=16",
        "device.threads=1",
    ]
