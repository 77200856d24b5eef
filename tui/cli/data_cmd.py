"""`labconsole data ...`: make the embedded demo data sets, with the engine's generators (in a subprocess)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from engine.core.engine_calls import PROJECT_ROOT


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "data",
        help="make the embedded demo data sets (synth-vpr, synth-seg, synth-cls, synth-det DIR)",
        add_help=False,
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="arguments of the engine's data maker")
    parser.set_defaults(handler=make_data)


def make_data(args: argparse.Namespace) -> int:
    """Forward to `python -m engine.data.make_synthetic` (it defines the kinds and their options)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    return subprocess.call([sys.executable, "-m", "engine.data.make_synthetic", *args.rest], env=env)
