"""`labconsole data synth-vpr | synth-seg | synth-cls | synth-det DIR`: make the embedded synthetic data sets.

The console forwards `labconsole data ...` here (`python -m engine.data.make_synthetic ...`): the generators
are engine code, and the arguments are defined once, in this module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="labconsole data", description="make the embedded demo data sets")
    kinds = root.add_subparsers(dest="kind", metavar="KIND", required=True)
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
    cls.add_argument(
        "--val", type=int, default=25, help="images per class in val and in the shifted noisy set"
    )
    cls.set_defaults(handler=synth_cls)
    det = kinds.add_parser(
        "synth-det", help="street scenes with boxed cars, people and signs, COCO layout (train, val, dusk)"
    )
    det.add_argument("dir", metavar="DIR")
    det.add_argument("--seed", type=int, default=0)
    det.add_argument("--train", type=int, default=600, help="training images")
    det.add_argument("--val", type=int, default=150, help="images in val and in the shifted dusk test set")
    det.set_defaults(handler=synth_det)
    return root


def synth_vpr(args: argparse.Namespace) -> dict:
    from engine.data.synth_vpr import make_synth_vpr

    return make_synth_vpr(Path(args.dir), seed=args.seed, train_places=args.places)


def synth_seg(args: argparse.Namespace) -> dict:
    from engine.data.synth_seg import make_synth_seg

    return make_synth_seg(
        Path(args.dir), seed=args.seed, train_images=args.train, val_images=args.val, test_images=args.val
    )


def synth_cls(args: argparse.Namespace) -> dict:
    from engine.data.synth_cls import make_synth_cls

    return make_synth_cls(Path(args.dir), seed=args.seed, train_per_class=args.train, test_per_class=args.val)


def synth_det(args: argparse.Namespace) -> dict:
    from engine.data.synth_det import make_synth_det

    return make_synth_det(
        Path(args.dir), seed=args.seed, train_images=args.train, val_images=args.val, test_images=args.val
    )


def main(argv: list[str] | None = None) -> int:
    from engine.core.errors import UserError

    args = parser().parse_args(argv)
    try:
        summary = args.handler(args)
    except UserError as exc:
        print(f"labconsole: error: {exc}", file=sys.stderr)
        return 2
    print(f"made {args.dir}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
