"""Per-call cost of logging 8 scalars: our EventWriter and the scripts' `labconsole` API against plain JSONL,
TensorBoard, wandb and trackio.

Run: .venv/bin/python benchmarks/log_overhead.py [--calls 20000] [--repeats 3]
Slow backends run fewer calls (about --budget seconds per repeat); the table says how many.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.core.protocol import EventWriter

VALUES = {
    "loss/total": 0.731,
    "loss/ce": 0.512,
    "loss/dice": 0.219,
    "lr/backbone": 1e-4,
    "lr/head": 1e-3,
    "grad_norm": 2.31,
    "img_per_s": 41.7,
    "epoch": 3.0,
}
"""The 8 scalars every backend logs per call, as a training step would."""

# A backend runs `calls` logging calls in a fresh folder and returns (caller seconds, total seconds):
# caller = time spent inside the logging calls, total = that plus closing/flushing everything.
Backend = Callable[[int, Path], tuple[float, float]]


def bench_ours(calls: int, folder: Path, flush_interval: float = 0.5) -> tuple[float, float]:
    """labconsole EventWriter.scalar: capture only; a daemon thread serialises and writes."""
    writer = EventWriter(folder / "events.jsonl", flush_interval=flush_interval)
    start = time.perf_counter()
    for step in range(calls):
        writer.scalar(step, VALUES)
    caller = time.perf_counter() - start
    writer.close()
    return caller, time.perf_counter() - start


def bench_script_api(calls: int, folder: Path) -> tuple[float, float]:
    """`import labconsole`: run.log of a script's own loop (the same writer, plus the run.json progress check)."""
    import labconsole

    run = labconsole.init(name="bench", runs_dir=folder)
    start = time.perf_counter()
    for step in range(calls):
        run.log(VALUES, step=step)
    caller = time.perf_counter() - start
    run.finish()
    return caller, time.perf_counter() - start


def bench_jsonl(calls: int, folder: Path) -> tuple[float, float]:
    """Reference: json.dumps + write on every call, on the training thread."""
    with open(folder / "events.jsonl", "a") as f:
        start = time.perf_counter()
        for step in range(calls):
            f.write(json.dumps({"t": time.time(), "kind": "scalar", "step": step, "values": VALUES}) + "\n")
        caller = time.perf_counter() - start
    return caller, time.perf_counter() - start


def bench_tensorboard(calls: int, folder: Path) -> tuple[float, float]:
    """torch.utils.tensorboard SummaryWriter.add_scalar, once per scalar."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(folder))
    start = time.perf_counter()
    for step in range(calls):
        for tag, value in VALUES.items():
            writer.add_scalar(tag, value, step)
    caller = time.perf_counter() - start
    writer.close()
    return caller, time.perf_counter() - start


def bench_wandb(calls: int, folder: Path) -> tuple[float, float]:
    """wandb offline: wandb.log with the whole dict."""
    import wandb

    run = wandb.init(mode="offline", dir=str(folder), project="labconsole-bench")
    start = time.perf_counter()
    for step in range(calls):
        run.log(VALUES, step=step)
    caller = time.perf_counter() - start
    run.finish()
    return caller, time.perf_counter() - start


def bench_trackio(calls: int, folder: Path) -> tuple[float, float]:
    """trackio (local): trackio.log with the whole dict."""
    import trackio

    os.environ.setdefault("TRACKIO_DIR", str(folder))
    trackio.init(project="labconsole-bench")
    start = time.perf_counter()
    for step in range(calls):
        trackio.log(VALUES, step=step)
    caller = time.perf_counter() - start
    trackio.finish()
    return caller, time.perf_counter() - start


def _missing(module: str) -> str | None:
    """None when `module` can be imported, else a note saying why it is skipped."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    return None if found else f"skipped: {module} not installed"


BACKENDS: list[tuple[str, Backend, str | None]] = [
    ("labconsole EventWriter.scalar", bench_ours, None),
    # The same, with the writer thread draining during the loop: it competes for the GIL.
    ("  same, draining every 10 ms", functools.partial(bench_ours, flush_interval=0.01), None),
    ("labconsole.init(...).log", bench_script_api, None),
    ("json.dumps + write per call", bench_jsonl, None),
    ("tensorboard SummaryWriter x8", bench_tensorboard, "torch.utils.tensorboard"),
    ("wandb offline", bench_wandb, "wandb"),
    ("trackio", bench_trackio, "trackio"),
]


def _skip_reason(requires: str | None) -> str | None:
    """Why a backend cannot run here, or None."""
    if requires is None:
        return None
    if requires == "torch.utils.tensorboard":
        return _missing("torch") or _missing("tensorboard")
    return _missing(requires)


def _one(backend: Backend, calls: int) -> tuple[float, float]:
    """One repeat in a fresh temporary folder, in µs per call (caller, total)."""
    with tempfile.TemporaryDirectory() as tmp:
        caller, total = backend(calls, Path(tmp))
    return caller / calls * 1e6, total / calls * 1e6


def measure(backend: Backend, calls: int, repeats: int, budget_s: float) -> tuple[int, float, float]:
    """Median µs/call over `repeats`; slow backends get fewer calls so a repeat lasts ~budget_s."""
    _, probe_total = _one(backend, 200)  # also warms imports and caches
    calls = max(200, min(calls, int(budget_s / (probe_total * 1e-6))))
    runs = [_one(backend, calls) for _ in range(repeats)]
    return calls, statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main(argv: list[str] | None = None) -> None:
    """Measure every available backend and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per repeat for slow backends")
    args = parser.parse_args(argv)
    print(f"logging 8 scalars per call; median of {args.repeats}; python {sys.version.split()[0]}\n")
    print(f"{'backend':32} {'calls':>7} {'µs/call':>9} {'incl. flush':>12} {'× ours':>8}")
    ours = None
    for name, backend, requires in BACKENDS:
        reason = _skip_reason(requires)
        if reason:
            print(f"{name:32} {reason}")
            continue
        calls, caller_us, total_us = measure(backend, args.calls, args.repeats, args.budget)
        ours = ours or caller_us
        print(f"{name:32} {calls:>7} {caller_us:>9.2f} {total_us:>12.2f} {caller_us / ours:>8.1f}")
    print("\nµs/call: time inside the logging calls (what the training step pays);")
    print("incl. flush: plus closing the writer, i.e. all serialisation and I/O done on any thread.")
    print("× ours: µs/call relative to the first row.")


if __name__ == "__main__":
    main()
