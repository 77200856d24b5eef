"""Proof that the demo recipe learns VPR from scratch on 2 CPU cores: prints Recall@1/5 per split against wall-clock.

Usage: .venv/bin/python benchmarks/demo_recipe.py [--data DIR] [--steps 400] [--eval-at 0,100,200,300,400]
Uses the engine's own data pieces (synthetic city, folder loader, place sampler, vpr_shift augmentation) with a
plain conv-BN-ReLU CNN, GeM, a linear projection and multi-similarity loss + miner (pytorch-metric-learning).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses, miners
from torch import nn

from engine.data.augment import AUGMENTS
from engine.data.formats import DATA_FORMATS, FormatOptions
from engine.data.place_sampler import PlaceBatchSampler
from engine.data.sources import ImageSource
from engine.data.synth_vpr import SPLITS, make_synth_vpr

GMBERTON = DATA_FORMATS.build("gmberton")


@dataclass
class TrainPlaces:
    """The training set decoded into memory (this prototype predates streaming; the demo set is small)."""

    images: np.ndarray  # (N, 3, H, W) uint8
    labels: np.ndarray  # (N,) int64
    num_places: int


@dataclass
class TestSet:
    name: str
    database_images: np.ndarray
    database_utm: np.ndarray
    query_images: np.ndarray
    query_utm: np.ndarray


def decode_all(source: ImageSource, size: tuple[int, int]) -> np.ndarray:
    return np.stack([source.read(i, size).transpose(2, 0, 1) for i in range(len(source))])


def load_train_places(folder: Path, size: tuple[int, int]) -> TrainPlaces:
    index = GMBERTON.read(folder.parent, folder.name, FormatOptions())
    return TrainPlaces(decode_all(index.images, size), index.places, index.num_places)


def load_test_set(folder: Path, size: tuple[int, int]) -> TestSet:
    index = GMBERTON.read(folder, None, FormatOptions())
    return TestSet(
        folder.name,
        decode_all(index.database, size),
        index.database_utm,
        decode_all(index.queries, size),
        index.query_utm,
    )


MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


class PlainCNN(nn.Module):
    """`depth` 3×3 conv-BN-ReLU layers in stages of two; each stage opens with a stride-2 conv doubling the width."""

    def __init__(self, depth: int = 8, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, c_out = 3, width
        for i in range(depth):
            if i % 2 == 0 and i > 0:
                c_out *= 2
            stride = 2 if i % 2 == 0 else 1
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.out_channels = c_out
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×3×H×W -> B×C×H/16×W/16."""
        return self.layers(x)


class GeM(nn.Module):
    """Generalized mean pooling with a learnable exponent."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.full((1,), p))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×C×h×w -> B×C."""
        return x.clamp(min=self.eps).pow(self.p).mean(dim=(-2, -1)).pow(1.0 / self.p)


class VPRNet(nn.Module):
    """Backbone -> GeM -> linear projection -> L2 normalisation."""

    def __init__(self, depth: int, width: int, dim: int, gem_p: float) -> None:
        super().__init__()
        self.backbone = PlainCNN(depth, width)
        self.pool = GeM(gem_p)
        self.proj = nn.Linear(self.backbone.out_channels, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×3×H×W normalised images -> B×dim unit descriptors."""
        return F.normalize(self.proj(self.pool(self.backbone(x))), dim=1)


def to_input(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 N×3×H×W -> float [0, 1]."""
    return torch.as_tensor(images).float().div_(255)


@torch.no_grad()
def describe(model: nn.Module, images: np.ndarray, batch: int) -> np.ndarray:
    """N×D float32 descriptors, in eval mode."""
    model.eval()
    out = [model((to_input(images[i : i + batch]) - MEAN) / STD) for i in range(0, len(images), batch)]
    model.train()
    return torch.cat(out).numpy()


def recall(
    db: np.ndarray, q: np.ndarray, test: TestSet, radius: float = 25.0, ns: tuple = (1, 5)
) -> dict[str, float]:
    """Recall@N (percent) with exact k-NN (faiss IndexFlatL2) and positives within `radius` metres."""
    index = faiss.IndexFlatL2(db.shape[1])
    index.add(np.ascontiguousarray(db, np.float32))
    _, pred = index.search(np.ascontiguousarray(q, np.float32), max(ns))  # Q×maxN
    d = np.linalg.norm(test.query_utm[:, None, :] - test.database_utm[None, :, :], axis=2)  # Q×D metres
    hit = np.take_along_axis(d, pred, 1) <= radius  # Q×maxN
    return {f"R@{n}": 100.0 * hit[:, :n].any(1).mean() for n in ns}


def evaluate(model: nn.Module, tests: list[TestSet], batch: int) -> dict[str, dict[str, float]]:
    """Recall per test set; the shared database is described once."""
    cache: dict[bytes, np.ndarray] = {}
    results = {}
    for test in tests:
        key = test.database_utm.tobytes()
        if key not in cache:
            cache[key] = describe(model, test.database_images, batch)
        results[test.name] = recall(cache[key], describe(model, test.query_images, batch), test)
    return results


def thumbnail_baseline(tests: list[TestSet]) -> dict[str, float]:
    """R@1 of raw 16×24 thumbnails (per-image standardised), the trivial baseline the task must beat."""

    def thumbs(images: np.ndarray) -> np.ndarray:
        t = F.interpolate(to_input(images), size=(16, 24), mode="area").flatten(1)
        return F.normalize(t - t.mean(1, keepdim=True), dim=1).numpy()

    return {t.name: recall(thumbs(t.database_images), thumbs(t.query_images), t)["R@1"] for t in tests}


def lr_at(step: int, args: argparse.Namespace) -> float:
    """Linear warmup, then cosine decay to 0 at args.steps."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * 0.5 * (1 + math.cos(math.pi * progress))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("benchmarks/out/synth-vpr"))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--eval-at", default="0,100,200,300")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--wd", type=float, default=1e-4)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--places", type=int, default=32)
    parser.add_argument("--per-place", type=int, default=4)
    parser.add_argument("--size", default="48,72")
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--gem-p", type=float, default=3.0)
    parser.add_argument("--ms-alpha", type=float, default=1.0)
    parser.add_argument("--ms-beta", type=float, default=50.0)
    parser.add_argument("--ms-base", type=float, default=0.0)
    parser.add_argument("--miner-eps", type=float, default=0.1)
    parser.add_argument("--augment", default="vpr_shift")
    parser.add_argument("--aug", default="", help="augment overrides, e.g. p=0.9,zoom=0.4")
    parser.add_argument("--eval-batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline", action="store_true", help="also print the raw-thumbnail baseline")
    parser.add_argument("--save", type=Path, help="write the trained model's state_dict here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    summary = make_synth_vpr(args.data)
    print(
        f"data: {'reused' if summary['reused'] else 'made'} in {time.perf_counter() - t0:.1f} s", flush=True
    )
    size = tuple(int(v) for v in args.size.split(","))
    t0 = time.perf_counter()
    train = load_train_places(args.data / "train", size)
    tests = [load_test_set(args.data / split, size) for split in SPLITS]
    print(
        f"loaded {len(train.labels)} train images of {train.num_places} places in {time.perf_counter() - t0:.1f} s"
    )
    if args.baseline:
        print("raw 16x24 thumbnails R@1:", {k: round(v, 1) for k, v in thumbnail_baseline(tests).items()})
    train_loop(args, train, tests)


def train_loop(args: argparse.Namespace, train, tests: list[TestSet]) -> None:  # type: ignore[no-untyped-def]
    """Train for args.steps, evaluating at args.eval_at and at the end; prints the curve."""
    model = VPRNet(args.depth, args.width, args.dim, args.gem_p)
    print(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params")
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    loss_fn = losses.MultiSimilarityLoss(alpha=args.ms_alpha, beta=args.ms_beta, base=args.ms_base)
    miner = miners.MultiSimilarityMiner(epsilon=args.miner_eps)
    overrides = dict(kv.split("=") for kv in args.aug.split(",") if kv)
    augment = AUGMENTS.get(args.augment).factory(**{k: float(v) for k, v in overrides.items()})
    sampler = iter(PlaceBatchSampler(train.labels, args.places, args.per_place, args.seed))
    generator = torch.Generator().manual_seed(args.seed)
    images, labels = torch.from_numpy(train.images), torch.from_numpy(train.labels)
    eval_at = {int(s) for s in args.eval_at.split(",") if s} | {args.steps}
    start, eval_seconds, smooth = time.perf_counter(), 0.0, None
    for step in range(args.steps + 1):
        if step in eval_at:
            t = time.perf_counter()
            results = evaluate(model, tests, args.eval_batch)
            eval_seconds += time.perf_counter() - t
            row = "  ".join(f"{k} {v['R@1']:5.1f}/{v['R@5']:5.1f}" for k, v in results.items())
            print(
                f"[{time.perf_counter() - start:6.1f} s] step {step:4d}  loss {smooth or 0:.3f}  R@1/R@5: {row}"
                f"  (eval {time.perf_counter() - t:.1f} s)",
                flush=True,
            )
        if step == args.steps:
            break
        idx = torch.from_numpy(next(sampler))
        x = augment(to_input(images[idx]), generator)  # B×3×H×W in [0, 1]
        descriptors = model((x - MEAN) / STD)  # B×D
        loss = loss_fn(descriptors, labels[idx], miner(descriptors, labels[idx]))
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        smooth = loss.item() if smooth is None else 0.9 * smooth + 0.1 * loss.item()
    if args.save:
        torch.save(model.state_dict(), args.save)
    total = time.perf_counter() - start
    print(
        f"total {total:.1f} s (eval {eval_seconds:.1f} s, train {total - eval_seconds:.1f} s, "
        f"{args.steps * args.places * args.per_place / max(total - eval_seconds, 1e-9):.0f} img/s)"
    )


if __name__ == "__main__":
    main()
