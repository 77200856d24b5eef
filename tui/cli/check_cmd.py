"""`labconsole check CONFIG`: validate, print the resolved config and the parameter table; no training.

The resolved YAML is alone on stdout (`labconsole check demo > f.yaml` gives a loadable config equal to the
resolved one); the report (parameter tables, output size, data, global batch, "config OK") goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from engine.core.config import dump_config, resolve_config
from engine.core.config.eval_sets import split_roles
from engine.core.config.warnings import config_warnings
from engine.core.engine_calls import call_engine
from engine.core.gpus import visible_gpu_count
from tui.cli.common import console_for, stderr_console


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "check",
        help="validate a config; print it resolved with its parameter table",
        description="Validate CONFIG with its overrides and build the model on the CPU (no training). The "
        "resolved config goes to stdout as YAML, alone, so it can be saved and run; the parameter tables, "
        "output size, data found and global batch go to stderr.",
    )
    parser.add_argument(
        "config",
        metavar="CONFIG",
        help="a YAML file or a run preset name, or a recipe name (NAME@real: real data)",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. optim.lr=1e-4"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output (the composer uses it)")
    parser.add_argument(
        "--no-model", action="store_true", help="check the data only, build no model (no torch)"
    )
    parser.set_defaults(handler=check)


def check(args: argparse.Namespace) -> int:
    cfg = resolve_config(args.config, args.overrides)
    model = None if args.no_model else model_summary(cfg)
    if model is None:
        call_engine("engine.check", cfg, ["--data-only"])
    warnings = config_warnings(cfg, model, visible_gpu_count())
    print_warnings(warnings)
    if args.json:
        print(json.dumps({"config": cfg, "model": model, "warnings": warnings}, indent=1))
        return 0
    print_config(dump_config(cfg))
    report = stderr_console()
    if model:
        report.print(parameter_table(model))
        if len(model["phases"]) > 1:
            for phase in model["phases"]:
                report.print(phase_parameter_table(phase))
        report.print(
            model["output"], markup=False
        )  # the task's own line: descriptor, logits, backbone output
    if model and model.get("data"):
        report.print(data_lines({**model["data"], "roles": split_roles(cfg)}), markup=False)
    report.print(batch_line(cfg))
    report.print("[green]config OK[/]")
    return 0


def print_warnings(warnings: list[str]) -> None:
    """`warning: ...` lines on stderr: the config is valid (the exit code stays 0) but may not do what it seems."""
    report = stderr_console()
    for line in warnings:
        report.print(f"[yellow]warning:[/] {escape(line)}")


def print_config(text: str) -> None:
    """The YAML on stdout: highlighted on a terminal (long lines wrapped, never cut), verbatim when piped."""
    if not sys.stdout.isatty():
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    syntax = Syntax(text, "yaml", theme="ansi_dark", background_color="default", word_wrap=True)
    console_for(sys.stdout).print(syntax)


def data_lines(report: dict[str, Any]) -> str:
    """ "data: Cityscapes: 2,975 train / 500 val images, 19 classes" and one line per test set."""
    lines = [f"data: {report['line']}"] if report.get("line") else []
    roles = report.get("roles") or {}
    lines += [
        f"{'validation' if roles.get(name) == 'val' else 'test'} set {name}: {text}"
        for name, text in report.get("test_sets", {}).items()
    ]
    return "\n".join(lines)


def batch_line(cfg: dict[str, Any]) -> str:
    """'global batch: 2 processes × 64 images × 2 accumulated = 256 images per step' (one optimizer step)."""
    train, processes = cfg["train"], cfg["device"].get("processes", 1)
    parts = [f"{train['batch_size']} images"]
    if processes > 1:
        parts.insert(0, f"{processes} processes")
    if train["grad_accum_steps"] > 1:
        parts.append(f"{train['grad_accum_steps']} accumulated")
    total = train["batch_size"] * train["grad_accum_steps"] * processes
    return f"global batch: {' × '.join(parts)}" + (
        f" = {total} images per step" if len(parts) > 1 else " per step"
    )


def model_summary(cfg: dict[str, Any]) -> dict[str, Any]:
    """The engine's summary of the configured model and data (built on the CPU, in a subprocess: the console
    stays torch-free)."""
    return call_engine("engine.check", cfg)


def phase_parameter_table(phase: dict[str, Any]) -> Table:
    """Trainable vs frozen per group and backbone stage in one freeze phase."""
    note = "" if phase["in_run"] else "  (after max_steps)"
    table = _counts_table(f"phase {phase['index']} from step {phase['step']}: {phase['label']}{note}")
    for row in phase["rows"][:-1] + phase["stages"] + phase["rows"][-1:]:
        table.add_row(str(row["group"]), f"{row['params']:,}", f"{row['trainable']:,}", f"{row['frozen']:,}")
    return table


def parameter_table(model: dict[str, Any]) -> Table:
    """Per module group: parameters, trainable, frozen."""
    table = _counts_table("parameters")
    for row in model["parameters"]:
        table.add_row(str(row["group"]), f"{row['params']:,}", f"{row['trainable']:,}", f"{row['frozen']:,}")
    return table


def _counts_table(title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("group", justify="left")
    for name in ("params", "trainable", "frozen"):
        table.add_column(name, justify="right")
    return table
