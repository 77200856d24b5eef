"""`labconsole sweep`: being built (issue 14); the verb is registered so its module can grow on its own."""

from __future__ import annotations

import argparse

from engine.core.errors import UserError


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "sweep",
        help="queue a grid of runs (being built)",
        description="Queue a grid of runs varying config keys (being built).",
        epilog="examples:\n  labconsole sweep demo model.aggregator=gem,netvlad --parallel 2",
    )
    parser.set_defaults(handler=_not_yet)


def _not_yet(args: argparse.Namespace) -> int:
    raise UserError("labconsole sweep is not available in this build yet")
