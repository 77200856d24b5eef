"""`labconsole check CONFIG`: validate, print the resolved config and the parameter table; no training."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from engine.config import dump_config, resolve_config


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("check", help="validate a config; print it resolved with its parameter table")
    parser.add_argument("config", metavar="CONFIG")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.add_argument("--json", action="store_true", help="machine-readable output (the composer uses it)")
    parser.add_argument("--no-model", action="store_true", help="skip building the model (no torch import)")
    parser.set_defaults(handler=check)


def check(args: argparse.Namespace) -> int:
    cfg = resolve_config(args.config, args.overrides)
    model = None if args.no_model else model_summary(cfg)
    if args.json:
        print(json.dumps({"config": cfg, "model": model}, indent=1))
        return 0
    console = Console()
    console.print(Syntax(dump_config(cfg), "yaml", theme="ansi_dark", background_color="default"))
    if model:
        console.print(parameter_table(model))
        console.print(f"descriptor: {model['descriptor_dim']}-d   backbone output: {model['backbone_channels']} channels, "
                      f"stride {model['backbone_stride']}")
    console.print("[green]config OK[/]")
    return 0


def model_summary(cfg: dict[str, Any]) -> dict[str, Any]:
    """Build the model on CPU without weights downloads to count parameters per module group."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from engine.models.vpr_model import build_vpr_model, parameter_table as rows_of

    model = build_vpr_model(cfg["model"])
    return {"descriptor_dim": model.descriptor_dim, "backbone_channels": model.backbone.out_channels,
            "backbone_stride": model.backbone.stride, "parameters": rows_of(model.module_groups())}


def parameter_table(model: dict[str, Any]) -> Table:
    """Per module group: parameters, trainable, frozen."""
    table = Table(title="parameters", title_justify="left")
    for name, justify in (("group", "left"), ("params", "right"), ("trainable", "right"), ("frozen", "right")):
        table.add_column(name, justify=justify)
    for row in model["parameters"]:
        table.add_row(str(row["group"]), f"{row['params']:,}", f"{row['trainable']:,}", f"{row['frozen']:,}")
    return table
