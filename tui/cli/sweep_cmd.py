"""`labconsole sweep`: queue a grid (or paired lists) of runs, and list, show, steer, extend and export sweeps.

labconsole sweep CONFIG key=a,b,c other=x,y [--parallel N] [--name NAME] [--zip] [--baseline INDEX]
labconsole sweep ls | show ID | stop ID | pause ID | resume ID | extend ID key=v1,v2 | export ID --to DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.protocol.rundir import folder_error
from engine.core.sweep import create_sweep, extend_sweep, find_sweep, list_sweeps, request_sweep
from engine.core.sweep.axes import overrides_of, point_text
from engine.core.sweep.spec import spec_from_command_line
from engine.core.sweep.store import SweepState
from engine.core.sweep.table import (
    USES,
    SweepTable,
    build_sweep_table,
    column_label,
    delta_unit,
    fmt_train_time,
    to_csv,
    to_markdown,
    value_text,
)
from tui.cli.common import RUNS_DIR_PARENT, console_for, fmt_time, runs_dir_of
from tui.cli.plain_table import Cell, Column, table_lines

ACTIONS = ("ls", "show", "stop", "pause", "resume", "extend", "export")
"""Words that, in CONFIG's place, act on existing sweeps (`labconsole sweep show ID`)."""

FORMATS = ("table", "markdown", "csv")

EXAMPLES = (
    "labconsole sweep demo model.aggregator=gem,netvlad,mixvpr optim.lr=1e-3,3e-3 --parallel 2",
    "labconsole sweep demo optim.lr=1e-4,1e-3 train.max_steps=500 --zip --name lr-check",
    "labconsole sweep demo model.image_size=[224,224],[322,322] optim.lr=1e-3,3e-3 --zip",
    "labconsole sweep my_sweep.yaml --parallel 3        # config, axes, mode, baseline in a file",
    "labconsole sweep ls",
    "labconsole sweep show 20261206-130501-demo-sweep --format markdown --baseline 2",
    "labconsole sweep pause demo-sweep        # stop | pause | resume: by id, id prefix or name",
    "labconsole sweep extend demo-sweep optim.lr=1e-2",
    "labconsole sweep export demo-sweep --to results/",
)


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "sweep",
        parents=[RUNS_DIR_PARENT],
        help="queue a grid of runs; list, show, stop, pause, resume, extend or export sweeps",
        description="Queue every combination of the values given as key=a,b,c (--zip: the i-th values "
        "together) as runs that carry the sweep's id and the values they vary; a detached queue runs "
        "--parallel of them at a time (device.launcher=slurm: one Slurm job array). Keys given one value "
        "apply to every run. CONFIG is a run preset or recipe (its sweep: block when no key is swept), a "
        "config YAML, or a sweep YAML ({config, name, mode, parallel, overrides, axes, baseline}). In "
        "CONFIG's place, ls, show, stop, pause, resume, extend and export act on existing sweeps.",
        epilog="examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES),
    )
    parser.add_argument(
        "config", metavar="CONFIG", help=f"what to sweep, or one of: {', '.join(ACTIONS)} (then the sweep ID)"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=a,b,c",
        help="values to sweep (commas outside brackets split them), or key=value for every run",
    )
    parser.add_argument("--parallel", type=int, metavar="N", help="runs at a time (default 1)")
    parser.add_argument("--name", help="the sweep's name (default: CONFIG-sweep)")
    parser.add_argument("--zip", action="store_true", help="pair the i-th values of every key (no grid)")
    parser.add_argument(
        "--baseline", type=int, metavar="INDEX", help="the row deltas are taken against (default 0)"
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="show: table, markdown or csv")
    parser.add_argument("--use", choices=USES, default="best", help="show/export: best or final values")
    parser.add_argument("--to", metavar="DIR", help="export: the folder to write into")
    parser.set_defaults(handler=sweep)


def sweep(args: argparse.Namespace) -> int:
    if args.config not in ACTIONS:
        return queue_sweep(args)
    action = args.config
    if action == "ls":
        return list_cmd(args)
    if not args.overrides:
        raise UserError(f"labconsole sweep {action} needs the sweep's ID (labconsole sweep ls lists them)")
    ref, rest = args.overrides[0], args.overrides[1:]
    state = find_sweep(runs_dir_of(args), ref)
    if action == "extend":
        return extend_cmd(args, state, rest)
    if rest:
        raise UserError(f"labconsole sweep {action} takes one sweep ID, got also: {' '.join(rest)}")
    if action == "show":
        return show_cmd(args, state)
    if action == "export":
        return export_cmd(args, state)
    print(request_sweep(runs_dir_of(args), state.id, action))
    return 0


def queue_sweep(args: argparse.Namespace) -> int:
    spec = spec_from_command_line(
        args.config,
        args.overrides,
        zip_mode=args.zip,
        parallel=args.parallel,
        name=args.name,
        baseline=args.baseline,
    )
    paths = create_sweep(runs_dir_of(args), spec, ["labconsole", *sys.argv[1:]])
    state = find_sweep(runs_dir_of(args), paths.sweep_id)
    print(state.id)
    for point in state.points:
        mark = "  (baseline)" if point.index == state.baseline_index else ""
        print(f"  {point.index:>3}  {' '.join(overrides_of(point.varied))}{mark}")
    how = "as one Slurm job array" if state.launcher == "slurm" else f"{state.parallel} at a time"
    print(
        f"sweep {state.name}: {state.total} runs, {how}; follow with: labconsole sweep show {state.id}",
        file=sys.stderr,
    )
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    if args.overrides:
        raise UserError(f"labconsole sweep ls takes no argument, got: {' '.join(args.overrides)}")
    runs_dir = runs_dir_of(args)
    sweeps = list_sweeps(runs_dir)
    if not sweeps:
        print(f"no sweeps in {runs_dir}")
        return 0
    columns = [
        Column("id"),
        Column("name", shrinks=True),
        Column("status"),
        Column("done", right=True),
        Column("running", right=True),
        Column("best so far", shrinks=True),
        Column("varies", shrinks=True),
        Column("created"),
    ]
    rows = [_ls_row(runs_dir, s) for s in sweeps]
    console = console_for()
    for line in table_lines(columns, rows, console):
        print(line)
    return 0


def _ls_row(runs_dir: Path, state: SweepState) -> list[Cell]:
    running = sum(p.status == "running" for p in state.points)
    return [
        state.id,
        state.name,
        state.status,
        f"{state.finished}/{state.total}",
        str(running),
        best_so_far(runs_dir, state),
        ", ".join(f"{k} ×{len(v)}" for k, v in state.axes.items()),
        fmt_time(state.created),
    ]


def best_so_far(runs_dir: Path, state: SweepState) -> str:
    """`sim2real R@1 81.25 (#3 lr=3e-3)`: the best value of the main metric's first column, and its point."""
    table = build_sweep_table(runs_dir, state.id)
    mains = table.main_columns()
    if not mains or mains[0] not in table.best:
        return "-"
    column = mains[0]
    row = table.rows[table.best[column]]
    varied = point_text(row.varied, table.key_columns)
    return f"{column_label(column)} {value_text(table, column, row.values[column])} (#{row.index} {varied})"


def show_cmd(args: argparse.Namespace, state: SweepState) -> int:
    table = build_sweep_table(runs_dir_of(args), state.id, args.baseline, args.use)
    if args.format == "markdown":
        sys.stdout.write(to_markdown(table))
        return 0
    if args.format == "csv":
        sys.stdout.write(to_csv(table))
        return 0
    console = console_for()
    how = "a Slurm job array" if state.launcher == "slurm" else f"{state.parallel} at a time"
    print(
        f"sweep {state.name} ({state.id}): {state.status}, {state.finished}/{state.total} done, "
        f"{how}; {args.use} values, Δ against row {table.baseline_index}"
    )
    columns, rows = terminal_table(table)
    for line in table_lines(columns, rows, console):
        print(line)
    errors = [p for p in state.points if p.error]
    for point in errors:
        print(f"point {point.index} could not start: {point.error}", file=sys.stderr)
    if len(table.metric_columns) > len(table.main_columns()):
        print(f"every metric: labconsole sweep show {state.id} --format markdown (or csv)", file=sys.stderr)
    return 0


def terminal_table(table: SweepTable) -> tuple[list[Column], list[list[Cell]]]:
    """The main metric of every split with its Δ (the best in bold), after the varied keys."""
    mains = table.main_columns()
    columns = [Column("#", right=True), *(Column(k) for k in table.key_columns)]
    for column in mains:
        unit = delta_unit(table, column)
        columns += [
            Column(column_label(column), right=True),
            Column("Δ" + (f" {unit}" if unit else ""), right=True),
        ]
    columns += [Column("train time", right=True), Column("status"), Column("run", shrinks=True)]
    rows: list[list[Cell]] = []
    for row in table.rows:
        is_base = row.index == table.baseline_index
        cells: list[Cell] = [
            f"{row.index}{'*' if is_base else ''}",
            *(row.varied.get(k, "") for k in table.key_columns),
        ]
        for column in mains:
            text = value_text(table, column, row.values.get(column))
            cells.append((text, "bold") if table.is_best(column, row) else text)
            delta = row.deltas.get(column)
            cells.append("base" if is_base else _delta_cell(table, column, delta))
        cells += [fmt_train_time(row.train_seconds), row.status, row.run_id or "-"]
        rows.append(cells)
    return columns, rows


def _delta_cell(table: SweepTable, column: Any, delta: float | None) -> Cell:
    if delta is None:
        return "—"
    text = value_text(table, column, delta, signed=True)
    if abs(delta) < 1e-12:
        return text
    return (text, "green" if delta > 0 else "red")


def extend_cmd(args: argparse.Namespace, state: SweepState, assignments: list[str]) -> int:
    if not assignments:
        raise UserError(f"labconsole sweep extend {state.id} needs values to add, e.g. optim.lr=1e-2")
    added = extend_sweep(runs_dir_of(args), state.id, assignments)
    extended = find_sweep(runs_dir_of(args), state.id)
    print(f"sweep {state.id}: {len(added)} point(s) added, {extended.total} in all")
    for index in added:
        print(f"  {index:>3}  {' '.join(overrides_of(extended.points[index].varied))}")
    return 0


def export_cmd(args: argparse.Namespace, state: SweepState) -> int:
    from tui.data.sweep_plot import draw_metric_vs_key, numeric_keys

    if not args.to:
        raise UserError(f"labconsole sweep export {state.id} needs --to DIR (the folder to write into)")
    folder = Path(args.to)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise folder_error(
            "cannot create the export folder", folder, exc, "--to must name a folder you can write"
        ) from None
    table = build_sweep_table(runs_dir_of(args), state.id, args.baseline, args.use)
    written = [folder / f"{state.id}.md", folder / f"{state.id}.csv"]
    written[0].write_text(to_markdown(table), encoding="utf-8")
    written[1].write_text(to_csv(table), encoding="utf-8")
    mains = table.main_columns()
    for key in numeric_keys(table) if mains else []:
        written.append(draw_metric_vs_key(table, key, mains[0], folder / f"{state.id}-{key}.png"))
    for path in written:
        print(path)
    return 0
