"""`labconsole data synth-vpr DIR`: make the embedded synthetic data sets."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("data", help="make the embedded demo data sets")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    vpr = kinds.add_parser("synth-vpr", help="a procedural city in the gmberton VPR folder format")
    vpr.add_argument("dir", metavar="DIR")
    vpr.add_argument("--seed", type=int, default=0)
    vpr.add_argument("--places", type=int, default=1520, help="training places")
    vpr.set_defaults(handler=synth_vpr)


def synth_vpr(args: argparse.Namespace) -> int:
    from engine.data.synth_vpr import make_synth_vpr

    summary = make_synth_vpr(Path(args.dir), seed=args.seed, train_places=args.places)
    print(f"made {args.dir}: {summary}")
    return 0
