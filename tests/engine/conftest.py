"""Engine fixtures: a tiny synthetic VPR city made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 places, small test sets: enough for smoke runs in seconds."""
    from engine.data.synth_vpr import make_synth_vpr

    root = tmp_path_factory.mktemp("city")
    make_synth_vpr(root, seed=0, train_places=40, views_per_place=4, database_size=60, queries_per_split=30)
    return root


def tiny_overrides(root: Path, steps: int = 4) -> list[str]:
    """A run small enough for a test: plain CNN of width 8, 4 places × 2 images, eval at start and end."""
    return [
        f"data.root={root}",
        "data.synthetic=false",
        f"train.max_steps={steps}",
        "train.places_per_batch=4",
        "train.images_per_place=2",
        "train.log_every=1",
        "train.eval_every=0",
        "model.backbone.width=8",
        "model.descriptor_dim=32",
        "eval.batch_size=64",
        "device.threads=1",
    ]
