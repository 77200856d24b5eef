"""Export runs for papers and notes: scalars and evaluations as CSV, loss / LR / metric curves as PNG (torch-free)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from engine.protocol import RunPaths, iter_events, read_json


def collect(paths: RunPaths) -> dict[str, Any]:
    """One pass over events.jsonl: scalar and system series by step, eval history, and the run's name."""
    scalars: dict[int, dict[str, float]] = defaultdict(dict)
    evals: list[tuple[int, str, str, float]] = []
    for event in iter_events(paths.events):
        kind = event.get("kind")
        if kind == "resume":  # what a killed process logged after its last checkpoint was redone: drop it
            cut = event.get("step", 0)
            scalars = defaultdict(dict, {s: v for s, v in scalars.items() if s <= cut})
            evals = [e for e in evals if e[0] <= cut]
        elif kind in ("scalar", "system") and "step" in event:
            scalars[event["step"]].update(event.get("values", {}))
        elif kind == "eval":
            evals += [(event.get("step", 0), event["split"], k, v) for k, v in event.get("metrics", {}).items()]
    info = read_json(paths.run_json) or {}
    return {"id": paths.run_id, "name": info.get("name", paths.run_id), "scalars": dict(scalars), "evals": evals}


def write_csvs(run: dict[str, Any], folder: Path) -> list[Path]:
    """scalars.csv (step + one column per key) and evals.csv (step, split, metric, value)."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for values in run["scalars"].values() for k in values})
    scalars_csv, evals_csv = folder / "scalars.csv", folder / "evals.csv"
    with open(scalars_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", *keys])
        for step in sorted(run["scalars"]):
            values = run["scalars"][step]
            writer.writerow([step, *("" if values.get(k) is None else repr(values[k]) for k in keys)])
    with open(evals_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "split", "metric", "value"])
        writer.writerows(run["evals"])
    return [scalars_csv, evals_csv]


def smooth(values: list[float], weight: float = 0.6) -> list[float]:
    """TensorBoard-style debiased exponential moving average."""
    out, last, norm = [], 0.0, 0.0
    for value in values:
        last = last * weight + (1 - weight) * value
        norm = norm * weight + (1 - weight)
        out.append(last / norm if norm else value)
    return out


def plot_curves(runs: list[dict[str, Any]], folder: Path) -> list[Path]:
    """loss.png, lr.png and one PNG per eval metric of the first split, one colour per run, with a legend."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on an SSH box
    import matplotlib.pyplot as plt

    written = []
    for filename, title, pick in (("loss.png", "loss/total (smoothed)", lambda k: k == "loss/total"),
                                  ("lr.png", "learning rate", lambda k: k.startswith("lr/"))):
        fig, ax = plt.subplots(figsize=(7, 4))
        for run in runs:
            for key in sorted({k for v in run["scalars"].values() for k in v if pick(k)}):
                steps = [s for s in sorted(run["scalars"]) if key in run["scalars"][s]]
                ys = [run["scalars"][s][key] for s in steps]
                label = run["name"] if key == "loss/total" else f"{run['name']} {key[3:]}"
                ax.plot(steps, smooth(ys) if key == "loss/total" else ys, label=label)
        written.append(_save(fig, ax, title, folder / filename))
    for split, metric in _first_split_metrics(runs):
        fig, ax = plt.subplots(figsize=(7, 4))
        for run in runs:
            points = sorted((s, v) for s, sp, m, v in run["evals"] if sp == split and m == metric)
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=run["name"])
        written.append(_save(fig, ax, f"{split} {metric} (%)", folder / f"{split}_{metric.replace('@', '')}.png"))
    return written


def _first_split_metrics(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    for run in runs:
        if run["evals"]:
            split = run["evals"][0][1]
            return list(dict.fromkeys((split, m) for _, sp, m, _ in run["evals"] if sp == split))
    return []


def _save(fig: Any, ax: Any, title: str, path: Path) -> Path:
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
