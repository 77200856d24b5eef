"""Follow a run from its events: a rich progress bar (step, loss, img/s, ETA) and the final Recall table."""

from __future__ import annotations

import subprocess
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from engine.core.protocol import EventReader, RunPaths, read_json
from tui.cli.common import console_for, stderr_console

POLL_SECONDS = 0.25


def follow_run(
    paths: RunPaths, cfg: dict[str, Any], process: subprocess.Popen[bytes], quiet: bool = False
) -> dict[str, Any]:
    """Show progress until the engine process exits; returns the final run.json."""
    err = stderr_console()
    reader = EventReader(paths.events)
    evals: dict[str, list[tuple[int, dict[str, float]]]] = {}
    columns = [
        TextColumn("{task.description:<15}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[speed]} img/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err, disable=quiet, transient=False) as progress:
        bar = progress.add_task("starting", total=max(cfg["train"]["max_steps"], 1), loss="-", speed="-")
        while True:
            finished = process.poll() is not None
            for event in reader.read_new():
                _show(event, progress, bar, evals, err)
            if finished:
                break
            time.sleep(POLL_SECONDS)
    info = read_json(paths.run_json) or {}
    if evals:
        console_for().print(recall_table(evals, cfg))
    return info


def _show(event: dict[str, Any], progress: Progress, bar: Any, evals: dict[str, list], err: Console) -> None:
    kind = event.get("kind")
    if kind == "scalar":
        loss = event["values"].get("loss/total")
        progress.update(bar, completed=event["step"], loss=f"{loss:.4f}" if loss is not None else "-")
    elif kind == "system":
        progress.update(bar, speed=f"{event['values'].get('img_per_s', 0):.0f}")
    elif kind == "phase":
        progress.update(bar, description=event.get("phase", ""))
    elif kind == "eval":
        evals.setdefault(event["split"], []).append((event.get("step", 0), event["metrics"]))
        numbers = "  ".join(f"{k} {v:5.1f}" for k, v in event["metrics"].items())
        progress.console.print(f"step {event.get('step', 0):>6}  {event['split']:<12} {numbers}")
    elif kind == "alert":
        progress.console.print(f"[bold red]alert[/] {event.get('message', '')}")
    elif kind == "status" and event.get("status") not in ("running", None):
        progress.update(bar, description=event["status"])


def recall_table(evals: dict[str, list[tuple[int, dict[str, float]]]], cfg: dict[str, Any]) -> Table:
    """Final metrics per test set, with the change since the first evaluation (step 0) in brackets."""
    first_split = next(iter(evals.values()))
    metrics = list(first_split[-1][1])
    last_step, first_step = first_split[-1][0], first_split[0][0]
    caption = f"step {last_step}" + (f"; (change since step {first_step})" if len(first_split) > 1 else "")
    table = Table(title=f"{cfg['name']}: results (%)", caption=caption)
    table.add_column("Test set")
    for name in metrics:
        table.add_column(name, justify="right")
    for split, history in evals.items():
        start, end = history[0][1], history[-1][1]
        cells = []
        for name in metrics:
            value = end.get(name)
            if value is None:
                cells.append("-")
                continue
            delta = value - start.get(name, value)
            cells.append(f"{value:.1f}" + (f" ({delta:+.1f})" if len(history) > 1 else ""))
        table.add_row(split, *cells)
    return table
