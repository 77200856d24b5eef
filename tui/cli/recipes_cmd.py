"""`labconsole recipes [--json]`: the experiment logs as ready runs, one line each (full text when piped)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.core.config.recipes import REAL_SUFFIX, list_recipes, recipe_info
from engine.core.errors import UserError
from tui.cli.common import console_for
from tui.cli.plain_table import Column, table_lines

EXAMPLES = (
    "labconsole recipes",
    "labconsole recipes --json | jq '.[].name'",
    "labconsole run vpr_model_selection                          # the small variant, synthetic data, CPU",
    f"labconsole run vpr_model_selection{REAL_SUFFIX} data.root=/data/gsv_cities   # the log's own data",
    "labconsole check vpr_model_selection@real data.root=/data/gsv_cities",
    "labconsole sweep vpr_model_selection                        # the recipe's study, as a sweep",
)

COLUMNS = (
    Column("NAME"),
    Column("TASK"),
    Column("LOG"),
    Column("SWEEP"),
    Column("REPRODUCES", shrinks=True),
    Column("REAL VERSION NEEDS", shrinks=True),
)


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "recipes",
        help="list the experiment logs as ready recipes",
        description="List the recipes (presets/recipes/): the experiment logs as ready run configs. "
        "NAME runs the small variant on the embedded synthetic data (2 CPU cores, minutes); "
        f"NAME{REAL_SUFFIX} the real-data version (point data.root at the data it names). "
        "Every verb that takes a CONFIG takes a recipe name: run, check, sweep.",
        epilog="examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="one JSON list, each recipe's whole description")
    parser.set_defaults(handler=show_recipes)


def recipe_rows() -> list[dict[str, Any]]:
    """Every recipe's description (a malformed recipe file is named on stderr and left out)."""
    rows = []
    for name in list_recipes():
        try:
            rows.append(recipe_info(name))
        except UserError as exc:
            print(f"labconsole: warning: recipe {name}: {exc}", file=sys.stderr)
    return rows


def show_recipes(args: argparse.Namespace) -> int:
    rows = recipe_rows()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    console = console_for()
    if not rows:
        console.print("no recipes in presets/recipes/")
        return 0
    cells = [
        [
            row["name"],
            row["task"],
            row["log"],
            "yes" if row["has_sweep"] else "-",
            row["reproduces"],
            row["real_data"] if row["real"] else "-",
        ]
        for row in rows
    ]
    sys.stdout.write("\n".join(table_lines(COLUMNS, cells, console)) + "\n")
    return 0
