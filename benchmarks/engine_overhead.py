"""Engine overhead: the same model, data and optimizer for N steps as a bare PyTorch loop and through the engine.

Goal: engine throughput ≥ 0.97 × the bare loop (events, progress and control polling on). Runs alternate
(bare, engine, bare, engine, ...) so that machine noise hits both sides alike; the median ratio is reported.
Usage: python benchmarks/engine_overhead.py [--steps 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from engine.core.config import resolve_config
from engine.core.protocol import ControlReader, EventWriter, create_run, new_run_info, write_json_atomic
from engine.data.synth_vpr import make_synth_vpr
from engine.optim import build_optimizer
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks.vpr import VPRTask
from engine.trainer import Trainer


def make_config(root: Path, steps: int) -> dict:
    return resolve_config(
        "demo",
        [
            f"data.root={root}",
            "data.synthetic=false",
            f"train.max_steps={steps}",
            "train.eval_at_start=false",
            "eval.test_sets=[]",
            "train.log_every=10",
            "schedule.warmup_steps=0",
        ],
    )


def bare_loop(cfg: dict, steps: int) -> float:
    """The reference: what a researcher writes by hand, no logging at all. Returns images per second."""
    runtime = make_runtime(cfg["device"])
    task = VPRTask(cfg, runtime, seed_everything(0), load_test_sets=False)
    optimizer = build_optimizer(cfg["optim"], task.modules())
    start = time.perf_counter()
    for _ in range(steps):
        images, labels = task.next_batch()
        loss, _ = task.compute_loss(images, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(task.parameters(), float("inf"))
        optimizer.step()
    return steps * cfg["train"]["batch_size"] / (time.perf_counter() - start)


def engine_loop(cfg: dict, steps: int, runs_dir: Path) -> float:
    """The same work through Trainer.train(): events, system stats, run.json progress, control polling."""
    runtime = make_runtime(cfg["device"])
    task = VPRTask(cfg, runtime, seed_everything(0), load_test_sets=False)
    paths = create_run(runs_dir, "bench")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "bench", "vpr", [], max_steps=steps))
    events = EventWriter(paths.events)
    trainer = Trainer(paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events))
    trainer.save = lambda which: None  # checkpoint I/O is not loop overhead
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    events.close()
    return steps * cfg["train"]["batch_size"] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "city"
        make_synth_vpr(
            root, seed=0, train_places=200, views_per_place=4, database_size=20, queries_per_split=10
        )
        cfg = make_config(root, args.steps)
        bare_loop(cfg, 5)  # warm-up: allocator, thread pool
        bare, engine = [], []
        for _ in range(args.repeats):
            bare.append(bare_loop(cfg, args.steps))
            engine.append(engine_loop(cfg, args.steps, Path(tmp) / "runs"))
    ratios = [e / b for e, b in zip(engine, bare)]
    print(
        f"model plain_cnn {cfg['model']['image_size']}, batch {cfg['train']['batch_size']}, {args.steps} steps, "
        f"{args.repeats} alternating repeats, {torch.get_num_threads()} threads"
    )
    print(f"bare loop   {statistics.median(bare):8.1f} img/s   ({', '.join(f'{b:.1f}' for b in bare)})")
    print(f"engine      {statistics.median(engine):8.1f} img/s   ({', '.join(f'{e:.1f}' for e in engine)})")
    print(f"ratio engine/bare: median {statistics.median(ratios):.3f}  (goal ≥ 0.97)")


if __name__ == "__main__":
    main()
