"""`labconsole ls` and `labconsole show RUN`: the run history and one run's summary.

A damaged run (run.json or config.yaml unreadable, or fields of the wrong type) is listed as "damaged" with the
reason, and never hides or breaks the others. Text the user wrote (names, tags, errors) is escaped: rich markup in
it is shown, not interpreted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from engine.core.protocol import list_runs
from engine.core.protocol.listing import DAMAGE
from engine.core.provenance import provenance_lines
from tui.cli.common import (
    RUNS_DIR_PARENT,
    console_for,
    fmt_duration,
    fmt_time,
    is_untrained,
    lookup,
    main_metric,
    read_config,
    run_duration,
    run_summary,
    runs_dir_of,
)
from tui.cli.plain_table import Cell, Column, table_lines
from tui.data.config_summary import model_has, summarize_config
from tui.data.run_notes import notes_of

STATUS_STYLE = {
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "stopped": "yellow",
    "interrupted": "yellow",
    "queued": "dim",
    "damaged": "bold red",
}


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    ls = verbs.add_parser(
        "ls",
        parents=[RUNS_DIR_PARENT],
        help="list runs, newest first",
        description="List the runs of the runs folder, newest first: id, name, status, task, step, headline "
        "metric, duration and start. Piped, every field is printed whole; --json gives every run.json field. "
        "Archived runs are left out unless --all.",
    )
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.add_argument("--all", action="store_true", help="archived runs too")
    ls.set_defaults(handler=ls_runs)
    show = verbs.add_parser(
        "show",
        parents=[RUNS_DIR_PARENT],
        help="one run's summary, config and metrics",
        description="One run's summary: status, task, model, progress, data, error, its final and best "
        "metrics per test set, each loss's mean over the first and the last epoch, and its notes. --json gives run.json and config.yaml whole.",
    )
    show.add_argument("run", metavar="RUN", help="run id, unique id prefix, or unique name")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=show_run)


LS_COLUMNS = (
    Column("ID"),
    Column("NAME", shrinks=True),
    Column("STATUS"),
    Column("TASK"),
    Column("STEP", right=True),
    Column("METRIC", right=True),
    Column("DURATION", right=True),
    Column("STARTED"),
)


def ls_runs(args: argparse.Namespace) -> int:
    runs = list_runs(runs_dir_of(args), whole=args.json)
    archived = [r for r in runs if r.get("archived") is True]
    if archived and not args.all:
        runs = [r for r in runs if r.get("archived") is not True]
        print(f"({len(archived)} archived run(s) not listed: ls --all)", file=sys.stderr)
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "dir"} for r in runs], ensure_ascii=False))
        return 0
    console = console_for()
    if not runs:
        console.print(f"no runs in {escape(str(runs_dir_of(args)))}")
    else:
        sys.stdout.write("\n".join(table_lines(LS_COLUMNS, [_ls_row(run) for run in runs], console)) + "\n")
    for run in runs:
        if run.get(DAMAGE):
            print(f"labconsole: warning: run {run['id']}: {run[DAMAGE]}", file=sys.stderr)
    return 0


def styled_status(status: str) -> str:
    """A status as rich markup, coloured by what it means."""
    style = STATUS_STYLE.get(status, "")
    return f"[{style}]{escape(status)}[/]" if style else escape(status)


def _ls_row(run: dict[str, Any]) -> list[Cell]:
    progress = run.get("progress") or {}
    metric = main_metric(run)
    status = run["status"]
    return [
        run["id"],
        str(run.get("name") or ""),
        (status, STATUS_STYLE[status]) if status in STATUS_STYLE else status,
        str(run.get("task") or ""),
        step_text(progress) if progress else "-",
        (f"{metric[0]} {metric[1]:.1f}" + (" (untrained)" if is_untrained(run) else "")) if metric else "-",
        fmt_duration(run_duration(run, run["dir"])),
        fmt_time(run.get("started") or run.get("created")),
    ]


def show_run(args: argparse.Namespace) -> int:
    paths = lookup(args, args.run)
    info = run_summary(paths)
    config, config_damage = read_config(paths)
    damage = [text for text in (info.get(DAMAGE), config_damage) if text]
    if args.json:
        print(json.dumps({"run": info, "config": config, **({"damage": damage} if damage else {})}, indent=1))
        return 0
    console = console_for()
    console.print(
        f"[bold]{escape(str(info.get('name') or paths.run_id))}[/]  {paths.run_id}  {styled_status(info['status'])}"
    )
    for text in damage:
        console.print(f"[red]{escape(text)}[/]")
    console.print(escape(_facts_line(info, config, paths.root)))
    data = info.get("data") or {}
    for split, text in data.items():
        console.print(f"data {split}: {text}", markup=False)
    if info.get("error"):
        console.print(f"[red]error:[/] {escape(info['error'])}")
    untrained = ", untrained (step 0)" if is_untrained(info) else ""
    roles = info.get("roles") if isinstance(info.get("roles"), dict) else {}
    best_step = info.get("best_step")
    best_title = f"best (step {best_step})" if isinstance(best_step, int) else "best"
    for title, block in (("final", info.get("final") or {}), (best_title, info.get("best") or {})):
        title += untrained
        if block:
            console.print(metrics_table(title, block, roles))
    losses = loss_table(paths.events, info)
    if losses is not None:
        console.print(losses)
    for line in kept_and_reevaluated_lines(info):
        console.print(line, markup=False)
    for note in notes_of(info):
        console.print(f"[dim]note {fmt_time(note['t'])}[/]  {escape(note['text'])}")
    provenance = info.get("provenance")
    if isinstance(provenance, dict):
        for line in provenance_lines(provenance):
            console.print(f"[dim]{escape(line)}[/]")
    console.print(f"folder {paths.root}", markup=False)
    return 0


def _facts_line(info: dict[str, Any], config: dict[str, Any], folder: Any) -> str:
    """task, backbone, aggregator, loss, progress, duration and start of a run, on one line."""
    summary = summarize_config(config)
    progress = info.get("progress") or {}
    return (
        f"task {info.get('task') or summary.task or '-'}  backbone {summary.backbone or '-'}  "
        + (f"aggregator {summary.aggregator or '-'}  " if model_has(info, "aggregator") else "")
        + f"loss {summary.loss or '-'}  "
        f"step {step_text(progress)}  "
        f"duration {fmt_duration(run_duration(info, folder))}  started {fmt_time(info.get('started'))}"
    )


def kept_and_reevaluated_lines(info: dict[str, Any]) -> list[str]:
    """`show`'s lines for the numbered checkpoints kept (checkpoint.keep_every) and the re-evaluations
    (`labconsole eval`), each with how it was measured."""
    from engine.core.protocol.fingerprints import summary

    kept = [k for k in info.get("checkpoints_kept") or [] if isinstance(k, dict) and "step" in k]
    lines = []
    if kept:
        sizes = ", ".join(f"step {k['step']} ({fmt_megabytes(k.get('bytes'))})" for k in kept)
        lines.append(f"kept checkpoints: {sizes}")
    for record in info.get("reevaluations") or []:
        if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
            continue
        values = "  ".join(
            f"{name} {value:.2f}"
            for name, value in record["metrics"].items()
            if isinstance(value, (int, float))
        )
        settings = " ".join(f"{k}={v}" for k, v in (record.get("settings") or {}).items())
        lines.append(
            f"re-evaluated {record.get('checkpoint')} (step {record.get('step')}) {record.get('split')} "
            f"({record.get('role', 'test')}): {values}   {summary(record.get('fingerprint'))}"
            + (f"   [{settings}]" if settings else "")
        )
    return lines


def loss_table(events: Path, info: dict[str, Any]) -> Table | None:
    """Each loss's mean over the first and the last epoch and its change (tui.data.epoch_summary); None when
    the run logged no loss."""
    from tui.data.epoch_summary import epoch_summary, fmt_change, fmt_loss
    from tui.data.run_events import read_events

    series = read_events(events)[0].series
    summary = epoch_summary({key: s for (kind, key), s in series.items() if kind == "scalar"}, info)
    if summary is None:
        return None
    why = "" if summary.by_epoch else " of the logged points (fewer than 2 epochs known)"
    table = Table(title=f"loss mean, {summary.span}{why}", title_justify="left")
    table.add_column("loss")
    for label in (summary.first_label, summary.last_label, "change"):
        table.add_column(label, justify="right")
    for loss in summary.losses:
        table.add_row(
            escape(loss.name), fmt_loss(loss.first), fmt_loss(loss.last), fmt_change(loss.change_pct)
        )
    return table


def fmt_megabytes(size: Any) -> str:
    return f"{size / 1e6:.1f} MB" if isinstance(size, (int, float)) else "? MB"


def metrics_table(
    title: str, block: dict[str, dict[str, float]], roles: dict[str, Any] | None = None
) -> Table:
    """Splits as rows (a test set marked "(test)" when the run declared roles), metrics as right-aligned columns."""
    names = list(dict.fromkeys(name for metrics in block.values() for name in metrics))
    table = Table(title=title, title_justify="left")
    table.add_column("split")
    for name in names:
        table.add_column(escape(name), justify="right")
    for split, metrics in block.items():
        role = (roles or {}).get(split)
        label = f"{split} ({role})" if role else split
        table.add_row(escape(label), *(f"{metrics[n]:.2f}" if n in metrics else "-" for n in names))
    return table


def step_text(progress: dict[str, Any]) -> str:
    """'120/1000'; the step alone when the run has no step count (a script logging through the API)."""
    step, most = progress.get("step") or 0, progress.get("max_steps") or 0
    return f"{step}/{most}" if most else str(step)
