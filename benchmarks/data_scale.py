"""Data at scale: memory and time to the first step barely grow with the data set; streaming keeps up with memory.

1. gmberton training folders of 2,000 and 16,000 JPEGs (256 px, 4 views a place) are made once under
   --data-dir; the engine trains a few steps at 224 px on each, streaming (data.cache=off, default workers).
   Printed per size: peak PSS of the engine and its DataLoader workers (sampled from /proc every 0.1 s) and
   the time from the engine's start to its first step. Goals: 8× the images → ≤ 1.25× memory, ≤ 1.5× time.
   With --baseline-root the same runs of the code before streaming (which decodes every image before step 0,
   and leaves its resize cache in the data folder: use a copy of the data you can throw away).
2. The demo recipe's training in one process, alternating blocks of --steps steps between streaming JPEG
   decoding by workers (data.cache=off, default workers) and reading decoded images from memory
   (data.cache=memmap, no workers: the in-memory loader's access pattern). Goal: streaming ≥ 0.9× in memory.
   With --baseline-root (a checkout of the code before streaming, e.g. `git worktree add /tmp/before 1aa6547`),
   whole engine runs of that code and of streaming are timed too (separate processes: noisier).

Usage: python benchmarks/data_scale.py [--sizes 2000 16000] [--steps 20] [--repeats 8]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
VIEWS = 4


def image_name(index: int) -> str:
    """gmberton name of image `index`: 4 views share the coordinates of their place, places 50 m apart."""
    place = index // VIEWS
    east, north = 500000 + 50.0 * (place % 1000), 4000000 + 50.0 * (place // 1000)
    return f"@{east:010.2f}@{north:010.2f}@10@S@37.0@-122.0@p{index:07d}@@@@@@20200101@@.jpg"


def write_images(folder: str, start: int, stop: int, side: int) -> None:
    """Smooth random scenes (JPEG sizes like photos': ~20 KB at 256 px), deterministic per index."""
    for index in range(start, stop):
        rng = np.random.default_rng(index)
        low = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(low).resize((side, side), Image.Resampling.BICUBIC)
        noise = rng.integers(-12, 13, (side, side, 3))
        pixels = np.clip(np.asarray(image, np.int16) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(Path(folder) / image_name(index), "JPEG", quality=85)


def make_folder(root: Path, count: int, side: int = 256) -> Path:
    """root/<count>/train with `count` images (made once; a marker file says it is complete)."""
    folder = root / str(count) / "train"
    marker = folder.parent / "complete.json"
    if marker.is_file():
        return folder.parent
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [(str(folder), start, min(start + 500, count), side) for start in range(0, count, 500)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(write_images, *zip(*chunks)))
    marker.write_text(json.dumps({"images": count, "side": side}))
    return folder.parent


def tree_pss_mb(process: psutil.Process) -> float:
    """PSS of a process and all its descendants (shared pages counted once, split among their users)."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += proc.memory_full_info().pss
    return total / 2**20


def run_engine(
    overrides: list[str], runs: Path, env: dict[str, str] | None = None, cwd: Path = REPO
) -> dict[str, float]:
    """Launch `labconsole run demo ... --detach`, sample the engine's memory until it ends, read its events."""
    command = [
        sys.executable,
        "-m",
        "tui.cli.main",
        "--runs-dir",
        str(runs),
        "run",
        "demo",
        *overrides,
        "--detach",
    ]
    run_id = subprocess.run(
        command, check=True, capture_output=True, text=True, cwd=cwd, env=env
    ).stdout.split()[-1]
    folder = runs / run_id
    process = wait_for_pid(folder / "run.json")
    peak, started = 0.0, process.create_time()
    while process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
        peak = max(peak, tree_pss_mb(process))
        time.sleep(0.1)
    info = json.loads((folder / "run.json").read_text())
    if info.get("status") != "completed":
        raise SystemExit(
            f"run {run_id} ended {info.get('status')}: {info.get('error')} (see {folder}/output.log)"
        )
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    first_step = min(e["t"] for e in events if e["kind"] == "scalar")
    rates = [e["values"]["img_per_s"] for e in events if e["kind"] == "system"][2:]  # after the warm-up
    return {"peak_mb": peak, "first_step_s": first_step - started, "img_per_s": statistics.median(rates)}


def wait_for_pid(run_json: Path, timeout: float = 60.0) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid = json.loads(run_json.read_text()).get("pid")
            if pid:
                return psutil.Process(pid)
        except (OSError, ValueError, psutil.NoSuchProcess):
            pass
        time.sleep(0.02)
    raise SystemExit(f"no engine pid in {run_json}")


def scale(data_dir: Path, sizes: list[int], runs: Path, baseline: Path | None) -> None:
    """Peak memory and time to the first step per size, streaming (and the pre-streaming code when given)."""
    overrides = [
        "data.synthetic=false",
        "model.image_size=[224,224]",
        "eval.test_sets=[]",
        "train.eval_at_start=false",
        "train.max_steps=4",
        "train.log_every=1",
        "train.places_per_batch=8",
        "train.images_per_place=4",
    ]
    versions = {"streaming": ([*overrides, "data.cache=off"], None, REPO)}
    if baseline is not None:
        versions["before streaming"] = (overrides, {**os.environ, "PYTHONPATH": str(baseline)}, baseline)
    print(
        f"{'code':<18} {'images':>8} {'peak PSS (MB)':>14} {'first step (s)':>15}   (224 px, default workers)"
    )
    for version, (extra, env, cwd) in versions.items():
        results = {}
        for count in sizes:
            root = make_folder(data_dir, count)
            for stale in (root / "train").glob(".labconsole-cache-*"):
                stale.unlink()  # the old code's resize cache in the data folder: measure what a new user sees
            results[count] = run_engine([f"data.root={root}", *extra], runs, env, cwd)
            print(
                f"{version:<18} {count:>8,} {results[count]['peak_mb']:>14.0f} {results[count]['first_step_s']:>15.2f}"
            )
        small, large = results[sizes[0]], results[sizes[-1]]
        memory, first = large["peak_mb"] / small["peak_mb"], large["first_step_s"] / small["first_step_s"]
        print(
            f"{version:<18} {sizes[-1] / sizes[0]:.0f}× the images: memory {memory:.2f}× (goal ≤ 1.25), "
            f"first step {first:.2f}× (goal ≤ 1.5)"
        )


def demo_task(cache: str, workers: int, steps: int) -> Any:
    """The demo recipe's VPR task (synthetic city at its usual place) reading its training set one way."""
    from engine.core.config import resolve_config
    from engine.data.ensure import ensure_data
    from engine.runtime import make_runtime, seed_everything
    from engine.tasks.vpr import VPRTask

    cfg = resolve_config(
        "demo",
        [f"data.cache={cache}", f"data.workers={workers}", "eval.test_sets=[]", f"train.max_steps={steps}"],
    )
    ensure_data(cfg)
    return VPRTask(cfg, make_runtime(cfg["device"]), seed_everything(0), load_test_sets=False)


def train_block(task: Any, optimizer: Any, steps: int) -> float:
    """`steps` training steps (batch, augmentation, forward, backward, update); images per second."""
    start = time.perf_counter()
    for _ in range(steps):
        images, labels = task.next_batch()
        loss, _ = task.compute_loss(images, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * task.cfg["train"]["batch_size"] / (time.perf_counter() - start)


def throughput(steps: int, repeats: int, runs: Path, baseline: Path | None) -> None:
    """Streaming vs in-memory reading inside one process, in alternating blocks, so noise hits both alike."""
    from engine.optim import build_optimizer

    modes = {
        "streaming (cache off, workers)": demo_task("off", -1, steps),
        "in memory (memmap cache, no workers)": demo_task("memmap", 0, steps),
    }
    optimizers = {name: build_optimizer(task.cfg["optim"], task.modules()) for name, task in modes.items()}
    for name, task in modes.items():
        train_block(task, optimizers[name], 5)  # warm-up: workers started, allocator and threads ready
    rates: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(repeats):
        for name, task in modes.items():
            rates[name].append(train_block(task, optimizers[name], steps))
    for task in modes.values():
        task.close()
    workers = modes["streaming (cache off, workers)"].stream.workers
    print(
        f"\ndemo recipe, {repeats} alternating blocks of {steps} steps each ({workers} workers when streaming):"
    )
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, value in medians.items():
        print(f"  {name:<38} {value:7.1f} img/s   ({', '.join(f'{r:.0f}' for r in rates[name])})")
    ratios = [a / b for a, b in zip(*rates.values())]
    print(f"  streaming / in memory: median of blocks {statistics.median(ratios):.2f} (goal ≥ 0.9)")
    if baseline is not None:
        common = [
            "eval.test_sets=[]",
            "train.eval_at_start=false",
            f"train.max_steps={steps * 2}",
            "train.log_every=5",
        ]
        env = {**os.environ, "PYTHONPATH": str(baseline)}
        old = statistics.median(
            run_engine(common, runs, env, cwd=baseline)["img_per_s"] for _ in range(repeats)
        )
        new = statistics.median(
            run_engine(["data.cache=off", *common], runs)["img_per_s"] for _ in range(repeats)
        )
        print(
            f"  whole engine runs: before streaming (in-memory arrays) {old:.1f} img/s, streaming {new:.1f} img/s "
            f"({new / old:.2f}×; separate processes, noisier)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 16000])
    parser.add_argument("--steps", type=int, default=20, help="steps per throughput block")
    parser.add_argument("--repeats", type=int, default=8, help="alternating throughput blocks per mode")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "labconsole-data-scale"
    )
    parser.add_argument(
        "--baseline-root", type=Path, help="checkout of the code before streaming, run side by side"
    )
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        os.environ["LABCONSOLE_DATA_CACHE"] = str(Path(tmp) / "cache")  # a cold cache for the memmap mode
        scale(args.data_dir, args.sizes, runs, args.baseline_root)
        if not args.skip_throughput:
            throughput(args.steps, args.repeats, runs, args.baseline_root)


if __name__ == "__main__":
    main()
