"""`labconsole data synth-vpr | synth-seg | synth-cls DIR`: make the embedded synthetic data sets."""

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
    seg = kinds.add_parser("synth-seg", help="procedural street scenes with class masks (train, val, fog)")
    seg.add_argument("dir", metavar="DIR")
    seg.add_argument("--seed", type=int, default=0)
    seg.add_argument("--train", type=int, default=400, help="training images")
    seg.add_argument("--val", type=int, default=100, help="images in val and in the shifted fog test set")
    seg.set_defaults(handler=synth_seg)
    cls = kinds.add_parser("synth-cls", help="procedural shapes, one folder per class (train, val, noisy)")
    cls.add_argument("dir", metavar="DIR")
    cls.add_argument("--seed", type=int, default=0)
    cls.add_argument("--train", type=int, default=100, help="training images per class")
    cls.add_argument("--val", type=int, default=25, help="images per class in val and in the shifted noisy set")
    cls.set_defaults(handler=synth_cls)


def synth_vpr(args: argparse.Namespace) -> int:
    from engine.data.synth_vpr import make_synth_vpr

    summary = make_synth_vpr(Path(args.dir), seed=args.seed, train_places=args.places)
    print(f"made {args.dir}: {summary}")
    return 0


def synth_seg(args: argparse.Namespace) -> int:
    from engine.data.synth_seg import make_synth_seg

    summary = make_synth_seg(Path(args.dir), seed=args.seed, train_images=args.train, val_images=args.val,
                             test_images=args.val)
    print(f"made {args.dir}: {summary}")
    return 0


def synth_cls(args: argparse.Namespace) -> int:
    from engine.data.synth_cls import make_synth_cls

    summary = make_synth_cls(Path(args.dir), seed=args.seed, train_per_class=args.train, test_per_class=args.val)
    print(f"made {args.dir}: {summary}")
    return 0
