"""Fixture run folders for console tests: `make_run` writes realistic run.json, config.yaml, events and logs."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

FROZEN_NOW = 1_760_000_000.0
"""The frozen 'now' of console tests (2025-10-09 08:53:20 UTC); pass `clock=frozen_clock` to the app."""

HOUR = 3600.0

REMOTE_HOST, REMOTE_PID = "gpu-node-07", 4242
"""Fixture runs ran on another machine (stable screenshots); live ones are trusted as alive since readers
cannot check a remote pid (a local pid would be judged by its start time, which a frozen clock makes look
reused). Only `alive=False` runs name this host, with a dead pid."""

TEST_SETS = {
    "vpr": ("pitts30k", "tokyo247", "msls_val"),
    "segmentation": ("val",),
    "classification": ("val",),
}
"""Default eval splits per task."""

SEG_CLASSES = ("road", "building", "vegetation", "car", "person", "sky")
"""Classes of the fixture segmentation runs (per-class IoU metrics)."""


async def wait_for(
    pilot: Any,
    predicate: Callable[[], object],
    timeout: float = 10.0,
    describe: Callable[[], str] | None = None,
) -> None:
    """Let a Pilot-driven app run until `predicate()` holds; fail after `timeout` seconds.

    The one way console tests wait: on what they mean (a row shown, a screen pushed, a file written), never for
    a fixed time. `describe()`, when given, says what was seen instead (a run's log, say).
    """
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await pilot.pause(0.02)
    assert predicate(), describe() if describe is not None else "condition not reached in time"


async def validated(pilot: Any) -> None:
    """Let edits reach the launch surface on top (launcher, composer), then wait for its debounced validation."""
    from tui.widgets.launch_status import LaunchStatus

    await pilot.pause()
    status = pilot.app.screen.query_one(LaunchStatus)
    await wait_for(pilot, lambda: not status.pending)


def frozen_clock() -> float:
    """A clock stuck at FROZEN_NOW (stable durations, start times and spinner frames)."""
    return FROZEN_NOW


def dead_pid() -> int:
    """The pid of a process that has already exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def default_metrics(task: str, splits: Iterable[str], score: float) -> dict[str, dict[str, float]]:
    """Plausible best metrics per split, scaled by `score` (a percent for the main metric)."""
    out: dict[str, dict[str, float]] = {}
    for i, split in enumerate(splits):
        base = max(1.0, score - 7.5 * i)
        if task == "vpr":
            out[split] = {
                f"R@{k}": round(100 - (100 - base) * 0.55 ** math.log2(k), 2) for k in (1, 5, 10, 20)
            }
        elif task == "segmentation":
            ious = {f"IoU/{c}": round(min(99.0, base + 12 - 5 * j), 2) for j, c in enumerate(SEG_CLASSES)}
            out[split] = {"mIoU": round(base, 2), "pixel_acc": round(min(99.5, base + 20), 2), **ious}
        else:
            out[split] = {"top1": round(base, 2), "top5": round(min(99.9, base + 15), 2)}
    return out


def make_config(
    name: str,
    task: str,
    backbone: str,
    aggregator: str,
    loss: str,
    max_steps: int,
    splits: Iterable[str],
    tags: Iterable[str] = (),
    lr: float = 1e-4,
) -> dict[str, Any]:
    """A resolved config shaped like engine.core.config.resolve_config's output."""
    loss_section: dict[str, Any] = {"preset": loss, "name": loss}
    if "+" in loss:
        loss_section = {"preset": "mix", "name": "mix", "terms": {t: 1.0 for t in loss.split("+")}}
    return {
        "name": name,
        "description": "",
        "tags": list(tags),
        "task": {"preset": task, "name": task},
        "data": {"root": f"data/synth-{task}", "synthetic": True, "num_workers": 2},
        "model": {
            "backbone": {"preset": backbone, "name": backbone, "pretrained": True},
            "aggregator": {"preset": aggregator, "name": aggregator},
            "head": {"preset": "linear", "name": "linear"},
            "descriptor_dim": 512,
            "image_size": [224, 224],
        },
        "loss": loss_section,
        "optim": {"name": "adamw", "lr": lr, "weight_decay": 1e-4},
        "schedule": {"preset": "cosine", "name": "cosine", "warmup_steps": 100},
        "freeze": {"preset": "none", "name": "none"},
        "augment": {"preset": "none", "name": "none"},
        "device": {"name": "cpu", "amp": "off"},
        "train": {
            "max_steps": max_steps,
            "batch_size": 128,
            "eval_every": max(1, max_steps // 10),
            "seed": 0,
        },
        "eval": {"test_sets": [{"name": s, "path": s} for s in splits], "recall_at": [1, 5, 10, 20]},
    }


class _Events:
    """Writes events.jsonl lines with increasing `seq` (the engine's EventWriter format)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("w", encoding="utf-8")
        self._seq = 0

    def emit(self, kind: str, t: float, step: int | None = None, **fields: Any) -> None:
        """Append one event line."""
        record: dict[str, Any] = {"t": round(t, 3), "seq": self._seq, "kind": kind}
        if step is not None:
            record["step"] = step
        record.update(fields)
        self._file.write(json.dumps(record) + "\n")
        self._seq += 1

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()


def write_events(
    path: Path,
    *,
    task: str,
    loss: str,
    started: float,
    duration: float,
    steps: int,
    max_steps: int,
    best: Mapping[str, Mapping[str, float]],
    status: str,
    scalar_every: int = 10,
    eval_every: int | None = None,
    error: str | None = None,
) -> None:
    """A plausible event stream: status, scalars, system stats, evals, checkpoints, freeze, control, alerts."""
    events = _Events(path)
    rate = duration / max(1, steps)
    components = [c for c in loss.split("+")]
    eval_every = eval_every or max(1, max_steps // 10)
    events.emit("status", started - 2, status="queued")
    events.emit("status", started, status="running", message="engine started")
    events.emit(
        "freeze",
        started,
        step=0,
        phase="warmup",
        groups={"backbone": False, "aggregator": True, "head": True},
    )
    for step in range(0, steps + 1, scalar_every):
        t = started + step * rate
        decay = math.exp(-step / max(1.0, max_steps / 4))
        parts = {
            f"loss/{c}": round((1.0 + 0.3 * i) * decay + 0.05 * math.sin(step / 7 + i), 5)
            for i, c in enumerate(components)
        }
        lr = 1e-4 * 0.5 * (1 + math.cos(math.pi * step / max(1, max_steps)))
        values = {
            "loss/total": round(sum(parts.values()), 5),
            **parts,
            "lr/backbone": lr * 0.1,
            "lr/head": lr,
            "grad_norm": round(2.0 * decay + 0.3, 4),
        }
        events.emit("scalar", t, step=step, values=values)
        if step % (scalar_every * 5) == 0:
            events.emit(
                "system",
                t,
                step=step,
                values={"img_per_s": 412.5 + (step % 13), "rss_mb": 2150.0 + step % 97, "cpu_percent": 187.0},
            )
        if step and step % eval_every == 0:
            frac = step / max(1, max_steps)
            for split, metrics in best.items():
                scaled = {k: round(v * (0.6 + 0.4 * frac), 2) for k, v in metrics.items()}
                events.emit("eval", t, step=step, split=split, metrics=scaled)
            events.emit("checkpoint", t, step=step, path="checkpoints/last.pt", best=True)
        if step == steps // 2 and steps >= 20:
            events.emit(
                "control", t, step=step, id="c1", action="set", values={"optim.lr": 5e-5}, status="applied"
            )
    end = started + duration
    if status == "failed":
        events.emit(
            "alert", end, step=steps, level="error", code="oom", message=error or "CUDA out of memory"
        )
    if status in ("completed", "failed", "stopped"):
        events.emit("status", end, status=status, message=error or "")
    events.close()


def make_run(
    runs_dir: Path,
    name: str,
    status: str = "completed",
    *,
    task: str = "vpr",
    backbone: str = "resnet50",
    aggregator: str = "gem",
    loss: str = "multi_similarity",
    max_steps: int = 1000,
    steps: int | None = None,
    metrics: Mapping[str, Mapping[str, float]] | None = None,
    score: float | None = 80.0,
    tags: Iterable[str] = (),
    started: float | None = None,
    duration: float = HOUR,
    splits: Iterable[str] | None = None,
    error: str | None = None,
    run_id: str | None = None,
    scalar_every: int = 10,
    eval_every: int | None = None,
    alive: bool = True,
    events: bool = True,
) -> Path:
    """Write a realistic run folder and return it.

    Args:
        runs_dir: The runs directory (created when missing).
        name: Run name; the id is `<YYYYmmdd-HHMMSS>-<name>` (UTC) unless `run_id` is given.
        status: run.json status; "running"/"queued" runs look alive (a pid on REMOTE_HOST) unless
            `alive=False`, which stores a dead local pid (readers then show "interrupted").
        task: vpr | segmentation | classification.
        max_steps: The planned steps; `steps` defaults to max_steps for finished runs, half of it otherwise.
        metrics: run.json "best" ({split: {metric: value}}); default derived from `score` (None = no evals yet).
        started: Start time (default: two hours before FROZEN_NOW); queued runs have started=None.
        duration: Seconds from start to end (or to now for running runs, via `started`).
    """
    tags = list(tags)
    splits = list(splits or TEST_SETS.get(task, ("val",)))
    started = FROZEN_NOW - 2 * HOUR if started is None else started
    if steps is None:
        steps = max_steps if status == "completed" else (0 if status == "queued" else max_steps // 2)
    if metrics is None:
        metrics = default_metrics(task, splits, score) if score is not None else {}
    run_id = run_id or f"{_stamp(started)}-{name}"
    folder = Path(runs_dir) / run_id
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    config = make_config(name, task, backbone, aggregator, loss, max_steps, splits, tags)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    finished = status in ("completed", "failed", "stopped", "interrupted")
    info = {
        "id": run_id,
        "name": name,
        "status": status,
        "created": started - 2,
        "started": None if status == "queued" else started,
        "ended": started + duration if finished else None,
        "pid": _pid_for(status, alive),
        "host": socket.gethostname() if status in ("running", "queued") and not alive else REMOTE_HOST,
        "argv": ["labconsole", "run", "demo", f"model.backbone.name={backbone}"],
        "task": task,
        "tags": tags,
        # epoch as the engine writes it: passes over the training set, a float rounded to 3 decimals
        "progress": {"step": steps, "max_steps": max_steps, "epoch": round(steps / 480, 3)},
        "best": {k: dict(v) for k, v in metrics.items()},
        "final": {k: dict(v) for k, v in metrics.items()} if status == "completed" else {},
        "error": error if status == "failed" else None,
    }
    write_run_json(folder, info)
    if events and status != "queued":
        write_events(
            folder / "events.jsonl",
            task=task,
            loss=loss,
            started=started,
            duration=duration,
            steps=steps,
            max_steps=max_steps,
            best=metrics,
            status=status,
            scalar_every=scalar_every,
            eval_every=eval_every,
            error=error,
        )
    _write_log(folder / "output.log", name, status, steps, error)
    return folder


def write_run_json(folder: Path, info: Mapping[str, Any]) -> None:
    """Rewrite run.json atomically, as the engine does."""
    tmp = folder / ".run.json.tmp"
    tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / "run.json")


def update_run(folder: Path, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into a run's run.json (bumping its mtime) and return the new content."""
    info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    info.update(fields)
    write_run_json(folder, info)
    st = os.stat(folder / "run.json")
    os.utime(folder / "run.json", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # coarse-mtime filesystems
    return info


def _pid_for(status: str, alive: bool) -> int | None:
    """A pid for live-looking runs: a remote one (trusted as alive), or a dead local one when not `alive`."""
    if status not in ("running", "queued"):
        return None
    return REMOTE_PID if alive else dead_pid()


def _stamp(t: float) -> str:
    """Run-id timestamp in UTC (stable across time zones)."""
    import time

    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(t))


def _write_log(path: Path, name: str, status: str, steps: int, error: str | None) -> None:
    """A short output.log; failed runs end with a traceback."""
    lines = [f"[engine] run {name}: device cpu, 2 threads", "[engine] building model", "[engine] training"]
    lines += [
        f"step {s:>6}  loss/total {1.0 / (1 + s / 100):.4f}" for s in range(0, steps + 1, max(1, steps // 5))
    ]
    if status == "failed":
        lines += [
            "Traceback (most recent call last):",
            '  File "engine/trainer.py", line 88, in train_step',
            f"RuntimeError: {error or 'CUDA out of memory'}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def populate_runs(runs_dir: Path) -> dict[str, Path]:
    """A varied runs directory: every status, three tasks, tags, a last-year run; name -> folder."""
    now = FROZEN_NOW
    specs: list[tuple[str, str, dict[str, Any]]] = [
        (
            "r50-gem-baseline",
            "completed",
            dict(
                tags=["baseline"], score=85.3, max_steps=10_000, started=now - 26 * HOUR, duration=5.2 * HOUR
            ),
        ),
        (
            "convnext-gem-ms",
            "running",
            dict(
                backbone="convnext_tiny",
                score=78.2,
                max_steps=10_000,
                steps=3_250,
                started=now - 1.5 * HOUR,
                tags=["sweep"],
            ),
        ),
        (
            "dinov2-salad",
            "running",
            dict(
                backbone="vit_small_patch14_dinov2",
                aggregator="salad",
                score=None,
                max_steps=5_000,
                steps=800,
                started=now - 0.3 * HOUR,
            ),
        ),
        (
            "seg-convnext-ce-lovasz",
            "completed",
            dict(
                task="segmentation",
                backbone="convnext_small",
                aggregator="fpn",
                loss="ce+lovasz",
                score=71.4,
                max_steps=40_000,
                started=now - 50 * HOUR,
                duration=9 * HOUR,
            ),
        ),
        (
            "seg-r50-dice-oom",
            "failed",
            dict(
                task="segmentation",
                aggregator="fpn",
                loss="ce+dice",
                score=None,
                max_steps=20_000,
                steps=120,
                error="CUDA out of memory",
                started=now - 5 * HOUR,
                duration=240,
            ),
        ),
        (
            "cls-resnet18",
            "stopped",
            dict(
                task="classification",
                backbone="resnet18",
                aggregator="avg",
                loss="cross_entropy",
                score=64.2,
                max_steps=8_000,
                steps=5_100,
                started=now - 30 * HOUR,
                duration=2.1 * HOUR,
            ),
        ),
        (
            "r50-netvlad-cosface",
            "running",
            dict(
                aggregator="netvlad",
                loss="cosface",
                score=81.9,
                max_steps=20_000,
                steps=12_400,
                alive=False,
                started=now - 8 * HOUR,
            ),
        ),
        (
            "mnv3-avg-queued",
            "queued",
            dict(
                backbone="mobilenetv3_large", aggregator="avg", score=None, max_steps=2_000, started=now - 60
            ),
        ),
        (
            "r18-gem-sanity",
            "completed",
            dict(
                backbone="resnet18",
                score=62.5,
                max_steps=400,
                tags=["sanity"],
                started=now - 400 * 24 * HOUR,
                duration=190,
            ),
        ),
    ]
    return {name: make_run(runs_dir, name, status, **kw) for name, status, kw in specs}
