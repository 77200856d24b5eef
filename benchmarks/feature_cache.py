"""Frozen-backbone feature cache: epoch time with vs without the cache, and that the losses are identical.

The linear-probe case of the experiment logs (a frozen pretrained backbone, a trainable GeM + projection):
without the cache every epoch recomputes the same backbone features. Goal: ≥ 10× faster per epoch.
Usage: python benchmarks/feature_cache.py [--backbone resnet18] [--size 112] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from engine.core.config import resolve_config
from engine.data.synth_vpr import make_synth_vpr
from engine.freeze import apply_phase, build_freeze
from engine.optim import build_optimizer
from engine.runtime import make_runtime, seed_everything
from engine.tasks.vpr import VPRTask


def epoch_times(cfg: dict, epochs: int) -> tuple[list[float], list[float], float]:
    """Seconds per epoch, the loss of every step, and the set-up time (which includes building the cache)."""
    runtime = make_runtime(cfg["device"])
    start = time.perf_counter()
    task = VPRTask(cfg, runtime, seed_everything(0), load_test_sets=False)
    phase = build_freeze(cfg["freeze"]).phases(
        cfg["train"]["max_steps"], task.steps_per_epoch(), task.modules()
    )[0]
    apply_phase(task.modules(), phase)  # as the trainer does: backbone frozen, its BatchNorms in eval mode
    task.freeze_phase = phase
    setup = time.perf_counter() - start
    optimizer = build_optimizer(cfg["optim"], task.modules())
    steps = int(task.steps_per_epoch())
    times, losses = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        for _ in range(steps):
            images, labels = task.next_batch()
            loss, _ = task.compute_loss(images, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        times.append(time.perf_counter() - start)
    return times, losses, setup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--places", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LABCONSOLE_CACHE"] = str(Path(tmp) / "cache")
        root = Path(tmp) / "city"
        make_synth_vpr(
            root, seed=0, train_places=args.places, views_per_place=4, database_size=20, queries_per_split=10
        )
        base = [
            f"data.root={root}",
            "data.synthetic=false",
            f"model.backbone.name={args.backbone}",
            f"model.image_size={args.size}",
            "freeze=frozen_backbone",
            "augment=none",
            "train.places_per_batch=16",
            "eval.test_sets=[]",
        ]
        results = {}
        for mode in ("off", "on"):
            cfg = resolve_config("demo", [*base, f"train.feature_cache={mode}"])
            results[mode] = epoch_times(cfg, args.epochs)
    (off_t, off_l, off_s), (on_t, on_l, on_s) = results["off"], results["on"]
    diff = max(abs(a - b) for a, b in zip(off_l, on_l))
    print(
        f"{args.backbone}@{args.size}, {len(off_l) // args.epochs} steps/epoch, {torch.get_num_threads()} threads"
    )
    print(f"without cache: epochs {', '.join(f'{t:.2f}' for t in off_t)} s   (set-up {off_s:.1f} s)")
    print(
        f"with cache:    epochs {', '.join(f'{t:.3f}' for t in on_t)} s   (set-up incl. building the cache {on_s:.1f} s)"
    )
    print(f"speed-up per epoch: {min(off_t) / min(on_t):.1f}x  (goal >= 10x)")
    print(
        f"largest loss difference over {len(off_l)} steps: {diff:.2e}  ({'identical' if diff < 1e-4 else 'DIFFERENT'})"
    )


if __name__ == "__main__":
    main()
