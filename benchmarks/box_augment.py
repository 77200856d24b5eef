"""Cost of the detection augmentations per batch on one CPU thread, whole and by stage.

Run: .venv/bin/python benchmarks/box_augment.py [--batch 16] [--size 160 256] [--repeats 30]
Times are CPU time of this thread (time.thread_time), the best and the median of the repeats: on a shared
machine wall-clock time mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import torch

from engine.data import box_augment as ba
from engine.data.box_pixels import halve, pack, render, unpack


def scenes(b: int, h: int, w: int, per_image: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Random byte images with `per_image` random boxes each."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (b, 3, h, w), generator=gen).float().div_(255)
    xy = torch.rand(b, per_image, 2, generator=gen) * torch.tensor([w * 0.8, h * 0.8])
    wh = (0.05 + 0.2 * torch.rand(b, per_image, 2, generator=gen)) * torch.tensor([w, h])
    classes = torch.randint(0, 5, (b, per_image, 1), generator=gen).float()
    return images, torch.cat([classes, xy, xy + wh], -1)


def cpu_ms(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(best, median) CPU milliseconds of `run`."""
    run()
    spent = []
    for _ in range(repeats):
        start = time.thread_time()
        run()
        spent.append(time.thread_time() - start)
    return min(spent) * 1e3, statistics.median(spent) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, nargs=2, default=(160, 256), metavar=("H", "W"))
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    h, w = args.size
    images, targets = scenes(args.batch, h, w)
    print(f"{args.batch}×3×{h}×{w}, one thread, CPU ms (best / median of {args.repeats})")
    for name in ("det_yolox", "det_basic"):
        whole = functools.partial(
            ba.BOX_AUGMENTS.build(name).boxes, images, targets, torch.Generator().manual_seed(0)
        )
        best, median = cpu_ms(whole, args.repeats)
        print(f"  {name:10s} {best:6.1f} / {median:6.1f}")
    # Stages of det_yolox with everything on (one fixed draw).
    aug = ba.BOX_AUGMENTS.build("det_yolox")
    u = torch.rand(args.batch, ba._DRAWS, generator=torch.Generator().manual_seed(1))
    on = torch.ones(args.batch, dtype=torch.bool)
    layout = ba._Layout.draw(u, on, on, on, u[:, ba._FLIP] < 0.5, aug.params, (h, w))
    packed = pack(images)
    inverse = torch.linalg.inv(layout.warp)
    warped = render(packed, (h, w), inverse, layout.centre, layout.sources)
    floats = unpack(warped, h, w)
    alone = torch.cat([layout.partner.unsqueeze(1), torch.full((args.batch, 3), -1)], 1)
    single = torch.tensor([[w, h]], dtype=torch.float64).expand(args.batch, 2)
    partner_inverse = torch.linalg.inv(layout.partner_warp)
    stages: dict[str, Callable[[], object]] = {
        "draw": lambda: ba._Layout.draw(u, on, on, on, u[:, ba._FLIP] < 0.5, aug.params, (h, w)),
        "pack": lambda: pack(images),
        "render (mosaic + affine)": lambda: render(packed, (h, w), inverse, layout.centre, layout.sources),
        "render (mixup partner)": lambda: render(packed, (h, w), partner_inverse, single, alone),
        "halve (mixup blend)": lambda: halve(warped, warped),
        "unpack": lambda: unpack(warped, h, w),
        "hsv": lambda: ba._hsv(floats, u, on, aug.params, 1 / 255),
        "targets": lambda: layout.targets(targets, aug.params),
        "pixels (pack .. unpack, mixup)": lambda: layout.pixels(images),
    }
    for stage, run in stages.items():
        best, median = cpu_ms(run, args.repeats)
        print(f"  {stage:32s} {best:6.2f} / {median:6.2f}")


if __name__ == "__main__":
    main()
