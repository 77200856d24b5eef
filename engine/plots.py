"""PNG curves of runs for papers and notes (matplotlib): loss, LR, each scalar group a model reports
(`routing/…`: one PNG of all its series), and each metric of the first test split.

Run as `python -m engine.plots` by the console (`labconsole export`, the compare screen's export): request
`{"runs": [run folders], "to": folder}` on stdin, answer the list of files written.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from engine.core.engine_calls import answer
from engine.core.export import collect, is_percent, smooth
from engine.core.protocol import RunPaths


def plot_curves(runs: list[dict[str, Any]], folder: Path) -> list[Path]:
    """loss.png, lr.png and one PNG per eval metric of the first split, one colour per run, with a legend."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on an SSH box
    import matplotlib.pyplot as plt

    written = []
    groups = [
        (f"{_file_name(group)}.png", group, _in_group(group)) for group in _model_groups(runs)
    ]  # what a model reports beyond its loss: routing/entropy, routing/util_s0_e1, ...
    for filename, title, pick in (
        ("loss.png", "loss/total (smoothed)", lambda k: k == "loss/total"),
        ("lr.png", "learning rate", lambda k: k.startswith("lr/")),
        *groups,
    ):
        fig, ax = plt.subplots(figsize=(7, 4))
        for run in runs:
            for key in sorted({k for v in run["scalars"].values() for k in v if pick(k)}):
                steps = [s for s in sorted(run["scalars"]) if key in run["scalars"][s]]
                ys = [run["scalars"][s][key] for s in steps]
                label = run["name"] if key == "loss/total" else f"{run['name']} {key.split('/', 1)[1]}"
                ax.plot(steps, smooth(ys) if key == "loss/total" else ys, label=label)
        written.append(_save(fig, ax, title, folder / filename))
    published = [m for run in runs for m in run.get("metric_order") or ()]
    for split, metric in _first_split_metrics(runs):
        fig, ax = plt.subplots(figsize=(7, 4))
        for run in runs:
            points = sorted((s, v) for s, sp, m, v in run["evals"] if sp == split and m == metric)
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=run["name"])
        title = f"{split} {metric}" + (" (%)" if is_percent(metric, published) else "")
        written.append(_save(fig, ax, title, folder / f"{_file_name(f'{split}_{metric}')}.png"))
    return written


def _file_name(text: str) -> str:
    """A metric or group as a file stem: `@` dropped (R@1 -> R1), other signs and `/` as `_` (IoU/road)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text.replace("@", "")) or "_"


_NOT_MODEL_GROUPS = re.compile(r"loss|lr|gpu\d+")
"""Prefixes of the trainer's own scalars and of the system gauges of other GPUs (gpu1/…)."""


def _model_groups(runs: list[dict[str, Any]]) -> list[str]:
    """Prefixes of the runs' scalars other than the trainer's: the groups a model reports (`routing`)."""
    prefixes = {k.split("/", 1)[0] for run in runs for v in run["scalars"].values() for k in v if "/" in k}
    return sorted(p for p in prefixes if p and not _NOT_MODEL_GROUPS.fullmatch(p))


def _in_group(group: str) -> Any:
    return lambda key: key.startswith(f"{group}/")


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


def draw(request: dict[str, Any], args: list[str]) -> list[str]:
    """Plot the requested runs into the requested folder; the paths written."""
    import matplotlib  # noqa: F401  (first: a missing extra is an ImportError answered as such)

    runs = [collect(RunPaths(Path(d))) for d in request["runs"]]
    folder = Path(request["to"])
    folder.mkdir(parents=True, exist_ok=True)
    return [str(p) for p in plot_curves(runs, folder)]


if __name__ == "__main__":
    sys.exit(answer(draw))
