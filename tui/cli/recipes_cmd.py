"""`labconsole recipes`: being built (issue 14); the verb is registered so its module can grow on its own."""

from __future__ import annotations

import argparse

from engine.core.errors import UserError


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "recipes",
        help="list the experiment logs as ready recipes (being built)",
        description="List the recipes: the experiment logs as ready run configs (being built).",
        epilog="examples:\n  labconsole recipes",
    )
    parser.set_defaults(handler=_not_yet)


def _not_yet(args: argparse.Namespace) -> int:
    raise UserError("labconsole recipes is not available in this build yet")
