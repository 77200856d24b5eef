"""A history of 10,000 runs: `labconsole ls` and the console's runs screen (list, sort, filter).

Usage: python benchmarks/history_scale.py [--runs N] [--keep DIR] [--repeats R]

Makes N fixture run folders (run.json, config.yaml, output.log; no torch) in the exact layout the engine
writes, then measures in fresh interpreters (what a user pays, bytecode cached):
- `labconsole ls` wall time, cold (no history index: every run.json is read) and warm (the index is fresh);
- `labconsole ls --json` warm;
- the console: process start → the runs screen lists every run; then `s` (sort by the next column) → the
  order changed; then `/` + a filter → the table shows the matching runs (headless, 200×50). Measured at the
  first start (no cache: the config.yaml summaries are parsed in the background meanwhile) and at a later start
  (the summaries cached), which is the goal's figure.
Goal (issue 13): each under 1 s with 10,000 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.core.protocol.history import INDEX_NAME  # noqa: E402  (after the path above)
from tests.tui.fixtures import FROZEN_NOW, make_run  # noqa: E402

GOAL_S = 1.0
STATUSES = ["completed"] * 8 + ["failed", "stopped"]


def make_runs(root: Path, count: int) -> None:
    """`count` finished runs of the three tasks, ten minutes apart (reused when the folder has them)."""
    have = sum(1 for e in os.scandir(root) if e.is_dir()) if root.exists() else 0
    if have >= count:
        return
    rng = random.Random(0)
    for i in range(count):
        make_run(
            root,
            f"run-{i:05d}",
            status=rng.choice(STATUSES),
            task=("vpr", "segmentation", "classification")[i % 3],
            score=rng.uniform(20, 90),
            started=FROZEN_NOW - (count - i) * 600,
            events=False,
            run_id=f"2025{i:06d}-run-{i:05d}",
        )


def env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**base, "PYTHONPATH": str(REPO), "COLUMNS": "160"}


def timed_ls(runs: Path, *extra: str) -> float:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli.main", "--runs-dir", str(runs), "ls", *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env(),
        check=False,
    )
    wall = time.perf_counter() - start
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return wall


CONSOLE = """
import time; t0 = time.perf_counter()
import asyncio, json
from pathlib import Path
from tui.app import LabConsoleApp
from tui.widgets.runs_table import RunsTable

async def wait(pilot, ready):
    while not ready():
        await pilot.pause(0.005)
    return time.perf_counter()

async def main():
    app = LabConsoleApp(Path({runs!r}))
    async with app.run_test(size=(200, 50)) as pilot:
        table = app.screen.query_one(RunsTable)
        t_listed = await wait(pilot, lambda: len(table.visible_ids) == {count})
        before = list(table.visible_ids)
        t_sort0 = time.perf_counter()
        await pilot.press("s")
        t_sorted = await wait(pilot, lambda: table.visible_ids != before)
        t_filter0 = time.perf_counter()
        await pilot.press("slash", *"run-0999", "enter")
        t_filtered = await wait(pilot, lambda: 0 < len(table.visible_ids) < 100)
        shown = len(table.visible_ids)
    print(json.dumps({{"listed": t_listed - t0, "sort": t_sorted - t_sort0,
                      "filter": t_filtered - t_filter0, "shown": shown}}))
asyncio.run(main())
"""


def cache_summaries(runs: Path) -> None:
    """Parse every config.yaml summary into the console's cache, as a first session does in the background."""
    code = f"from pathlib import Path; from tui.data.run_index import RunIndex; RunIndex(Path({str(runs)!r})).refresh()"
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**env(), "XDG_CACHE_HOME": str(runs.parent / "cache")},
        check=True,
        timeout=600,
    )


def console(runs: Path, count: int) -> dict[str, float]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CONSOLE.format(runs=str(runs), count=count)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**env(), "XDG_CACHE_HOME": str(runs.parent / "cache")},
        check=False,
        timeout=600,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="make (or reuse) the fixture runs here")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="labconsole-history-"))
    runs = root / "runs"
    started = time.perf_counter()
    make_runs(runs, args.runs)
    print(f"{args.runs:,} fixture runs in {runs} (ready in {time.perf_counter() - started:.1f} s)")
    timed_ls(runs)  # bytecode cache
    cold, warm, as_json, cold_screens, screens = [], [], [], [], []
    for _ in range(args.repeats):
        (runs / INDEX_NAME).unlink(missing_ok=True)
        shutil.rmtree(root / "cache", ignore_errors=True)
        cold.append(timed_ls(runs))
        warm.append(timed_ls(runs))
        as_json.append(timed_ls(runs, "--json"))
        cold_screens.append(console(runs, args.runs))  # parses every config.yaml, in the background
        cache_summaries(runs)  # what a first session left open a minute leaves behind
        screens.append(console(runs, args.runs))  # what every later start pays: the summaries are cached
    rows = [
        ("labconsole ls, no index (reads every run.json)", statistics.median(cold), None),
        ("labconsole ls, index fresh", statistics.median(warm), GOAL_S),
        ("labconsole ls --json, index fresh", statistics.median(as_json), None),
        (
            "console, first start: start → every run listed",
            statistics.median(s["listed"] for s in cold_screens),
            None,
        ),
        (
            "console, first start: / run-0999 → filtered",
            statistics.median(s["filter"] for s in cold_screens),
            None,
        ),
        ("console: start → every run listed", statistics.median(s["listed"] for s in screens), GOAL_S),
        ("console: s → sorted by the next column", statistics.median(s["sort"] for s in screens), GOAL_S),
        ("console: / run-0999 → filtered", statistics.median(s["filter"] for s in screens), GOAL_S),
    ]
    print(f"median of {args.repeats}; {args.runs:,} runs; wall seconds in a fresh interpreter")
    for label, seconds, goal in rows:
        verdict = "" if goal is None else ("✓" if seconds <= goal else "✗")
        goal_text = f"≤ {goal:g} s" if goal else ""
        print(f"  {label:<52} {seconds:7.3f} s  {goal_text:>8} {verdict}")
    print(f"  (console filter showed {screens[-1]['shown']} runs; load average {os.getloadavg()[0]:.1f})")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
