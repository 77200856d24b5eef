"""Export runs for papers and notes: scalars and evaluations as CSV here; PNG curves drawn by the engine side
(matplotlib), asked for in a subprocess so the console needs no plotting library; the figures the engine drew at
each evaluation (`image` events) copied under readable names with a markdown index."""

from __future__ import annotations

import csv
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core.engine_calls import call_engine
from engine.core.protocol import RunPaths, iter_events
from engine.core.protocol.figures import figure_file
from engine.core.protocol.listing import read_run_info
from engine.core.protocol.rundir import folder_error

PERCENT_DECIMALS = 2
"""Decimals of a percentage in every export, as compare shows them: more would be float noise, not news."""

SIGNIFICANT_DIGITS = 7
"""Significant digits of other exported numbers: the engine computes in float32, whose precision this is."""

_PERCENT_NAME = re.compile(r"^(R@\d+|recall|m?IoU|top-?\d+|pixel_acc|acc|mAP|precision)", re.IGNORECASE)
_LOWER_IS_BETTER_WORDS = ("loss", "err", "mae", "rmse")


def lower_is_better(metric: str) -> bool:
    """Anything named like a loss or an error goes down; recall, IoU, accuracy and mAP go up."""
    lowered = metric.lower()
    return any(word in lowered for word in _LOWER_IS_BETTER_WORDS)


def is_percent(metric: str, published: Iterable[str] = ()) -> bool:
    """Whether an evaluation metric is on a 0–100 scale, so that its differences are percentage points.

    Every task of the engine reports percentages (R@k, mIoU, pixel_acc, IoU/<class>, top-k) and publishes
    them all in run.json `metric_order` (`published`); runs written before that are known by the metric's
    name. A metric named like a loss or an error is never one.
    """
    if lower_is_better(metric):
        return False
    return metric in set(published) or bool(_PERCENT_NAME.match(metric))


def fmt_number(value: float, percent: bool = False, signed: bool = False, decimals: int | None = None) -> str:
    """A number for an exported cell with no float noise: `decimals` decimals when given, a percentage at
    PERCENT_DECIMALS, anything else at SIGNIFICANT_DIGITS significant digits; whole numbers as they are;
    never "-0.00"."""
    sign = "+" if signed else ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:{sign}d}"
    decimals = PERCENT_DECIMALS if percent and decimals is None else decimals
    text = f"{value:{sign}.{decimals}f}" if decimals is not None else f"{value:{sign}.{SIGNIFICANT_DIGITS}g}"
    if text.lstrip("+-").strip("0.") == "":  # rounds to zero: no sign left over from a tiny negative value
        text = sign + text.lstrip("+-")
    return text


def collect(paths: RunPaths) -> dict[str, Any]:
    """One pass over events.jsonl: scalar and system series by step, eval history, the run's name, and how many
    event lines were skipped for holding fields of the wrong type ("skipped")."""
    scalars: dict[int, dict[str, float]] = defaultdict(dict)
    evals: list[tuple[int, str, str, float]] = []
    skipped = 0
    for event in iter_events(paths.events):
        kind = event.get("kind")
        if kind == "resume":  # what a killed process logged after its last checkpoint was redone: drop it
            cut = event.get("step", 0)
            if not _is_step(cut):
                skipped += 1
                continue
            scalars = defaultdict(dict, {s: v for s, v in scalars.items() if s <= cut})
            evals = [e for e in evals if e[0] <= cut]
        elif kind in ("scalar", "system") and "step" in event:
            values = _numbers(event.get("values", {}))
            if not _is_step(event["step"]) or values is None:
                skipped += 1
                continue
            scalars[event["step"]].update(values)
        elif kind == "eval" and not event.get("reeval"):  # a stored checkpoint re-evaluated is not history
            step, split, metrics = event.get("step", 0), event.get("split"), _numbers(event.get("metrics"))
            if not _is_step(step) or not isinstance(split, str) or metrics is None:
                skipped += 1
                continue
            evals += [(step, split, k, v) for k, v in metrics.items()]
    info = read_run_info(paths.root) or {}
    return {
        "id": paths.run_id,
        "name": info.get("name") or paths.run_id,
        "metric_order": info.get("metric_order") or [],
        "scalars": dict(scalars),
        "evals": evals,
        "skipped": skipped,
    }


def _is_step(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _numbers(values: Any) -> dict[str, float] | None:
    """The numbers of an event's {name: value} mapping (a value of another type left out), None when no mapping."""
    if not isinstance(values, dict):
        return None
    return {str(k): v for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


EXPORT_DIR_NEEDED = "--to must name a folder you can write"
"""What an export folder must be, said after each disk fault in it."""


def write_csvs(run: dict[str, Any], folder: Path) -> list[Path]:
    """scalars.csv (step + one column per key) and evals.csv (step, split, metric, value), numbers rounded to
    what they hold (fmt_number).

    Raises:
        UserError: `folder` cannot be created or written (naming it and the cause).
    """
    try:
        return _write_csvs(run, folder)
    except OSError as exc:
        raise folder_error("cannot write the export folder", folder, exc, EXPORT_DIR_NEEDED) from None


def _write_csvs(run: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for values in run["scalars"].values() for k in values})
    scalars_csv, evals_csv = folder / "scalars.csv", folder / "evals.csv"
    with open(scalars_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", *keys])
        for step in sorted(run["scalars"]):
            values = run["scalars"][step]
            writer.writerow([step, *("" if values.get(k) is None else fmt_number(values[k]) for k in keys)])
    published = run.get("metric_order") or ()
    with open(evals_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "split", "metric", "value"])
        for step, split, metric, value in run["evals"]:
            writer.writerow([step, split, metric, fmt_number(value, is_percent(metric, published))])
    return [scalars_csv, evals_csv]


def smooth(values: list[float], weight: float = 0.6) -> list[float]:
    """TensorBoard-style debiased exponential moving average."""
    out, last, norm = [], 0.0, 0.0
    for value in values:
        last = last * weight + (1 - weight) * value
        norm = norm * weight + (1 - weight)
        out.append(last / norm if norm else value)
    return out


def plot_curves(run_dirs: list[Path], folder: Path) -> list[Path]:
    """loss.png, lr.png and a PNG per metric of the first test split, one colour per run (see engine.plots).

    Raises:
        UserError: matplotlib is missing (a console-only install), naming the extra that brings it.
    """
    written = call_engine("engine.plots", {"runs": [str(d) for d in run_dirs], "to": str(folder)})
    return [Path(p) for p in written]


@dataclass(frozen=True)
class FigureFile:
    """One figure of a run: the evaluation step, split and kind (`tag`) it shows, its PNG and its caption."""

    step: int
    split: str
    tag: str
    path: Path
    caption: str

    @property
    def export_name(self) -> str:
        """step_000500-retrievals-sim2real.png: sorts by step, says what it shows."""
        return f"step_{self.step:06d}-{_safe(self.tag)}-{_safe(self.split)}.png"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"


def collect_figures(paths: RunPaths) -> tuple[list[FigureFile], list[str]]:
    """The run's figures from its `image` events (the latest of each step, split and tag; those a resume
    redid replaced), and a warning for each event skipped (a refused path, a missing file, wrong fields)."""
    figures: dict[tuple[int, str, str], FigureFile] = {}
    warnings = []
    for event in iter_events(paths.events):
        kind, step = event.get("kind"), event.get("step", 0)
        if kind == "resume" and _is_step(step):
            figures = {key: f for key, f in figures.items() if key[0] <= step}
        if kind != "image":
            continue
        split, tag, caption = event.get("split", ""), event.get("tag"), event.get("caption", "")
        if not _is_step(step) or not all(isinstance(v, str) for v in (split, tag, caption)) or not tag:
            warnings.append(
                f"skipped an image event with fields of the wrong type (line seq {event.get('seq')})"
            )
            continue
        try:
            path = figure_file(paths.root, event.get("path"))
        except ValueError as exc:
            warnings.append(f"skipped a figure: {exc}")
            continue
        figures[(step, split, tag)] = FigureFile(step, split, tag, path, caption)
    found = []
    for figure in sorted(figures.values(), key=lambda f: f.step):  # within a step: the order drawn
        if figure.path.is_file():
            found.append(figure)
        else:
            warnings.append(f"skipped a figure whose file is missing: {figure.path}")
    return found, warnings


def write_figures(figures: list[FigureFile], folder: Path, title: str) -> list[Path]:
    """Copy each figure into `folder` (step_000500-retrievals-sim2real.png) and write index.md: a table of step,
    split, kind and caption, each linking its file. Returns the files written.

    Raises:
        UserError: `folder` cannot be created or written (naming it and the cause).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for figure in figures:
            target = folder / figure.export_name
            shutil.copyfile(figure.path, target)
            written.append(target)
        index = folder / "index.md"
        index.write_text(figures_index(figures, title), encoding="utf-8")
    except OSError as exc:
        raise folder_error("cannot write the export folder", folder, exc, EXPORT_DIR_NEEDED) from None
    return [*written, index]


def figures_index(figures: list[FigureFile], title: str) -> str:
    """Markdown: a heading, then one table row per figure (step, split, kind, caption, file link)."""
    lines = [
        f"# Figures of {title}",
        "",
        "| step | split | figure | caption | file |",
        "|---:|---|---|---|---|",
    ]
    for figure in figures:
        caption = figure.caption.replace("|", "\\|").replace("\n", " ")
        name = figure.export_name
        lines.append(f"| {figure.step} | {figure.split} | {figure.tag} | {caption} | [{name}]({name}) |")
    return "\n".join(lines) + "\n"
