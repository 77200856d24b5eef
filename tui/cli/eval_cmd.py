"""`labconsole eval RUN [--checkpoint last|best|N] [key=value ...]`: a stored checkpoint evaluated again.

The result is recorded as an evaluation of RUN (an `eval` event with `reeval: true`, run.json `reevaluations`)
with its own protocol fingerprint, so compare and the console can tell it from the run's own evaluations.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.protocol import RunPaths
from engine.core.protocol.fingerprints import summary
from tui.cli.common import RUNS_DIR_PARENT, console_for, lookup, read_config, run_summary
from tui.cli.listing_cmds import metrics_table

LIVE = ("queued", "running")
OVERRIDABLE = ("eval.",)
"""Settings a re-evaluation may change: how the weights are measured, never what they are."""


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "eval",
        parents=[RUNS_DIR_PARENT],
        help="evaluate a stored checkpoint of a run again, with changed eval settings",
        description="Evaluate RUN's last, best or a kept numbered checkpoint (checkpoint.keep_every) on its "
        "evaluated sets, or others, with eval.* settings changed (test sets, resolution, radius, recall_at). "
        "The result is recorded as an evaluation of RUN, with its own protocol fingerprint: compare shows it.",
    )
    parser.add_argument("run", metavar="RUN", help="run id, unique id prefix, or unique name")
    parser.add_argument(
        "--checkpoint",
        default="best",
        metavar="last|best|N",
        help="which checkpoint: last, best (default), or the step N of a kept one",
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="eval.* settings to change")
    parser.add_argument("--json", action="store_true", help="print the recorded evaluations as JSON")
    parser.set_defaults(handler=evaluate_again)


def evaluate_again(args: argparse.Namespace) -> int:
    import json

    from engine.core.config import resolve_config
    from engine.core.engine_calls import call_engine

    paths = lookup(args, args.run)
    info = run_summary(paths)
    if info["status"] in LIVE:
        raise UserError(
            f"run {paths.run_id} is {info['status']}: re-evaluate its checkpoints once it has ended "
            f"(or stop it: labconsole stop {paths.run_id})"
        )
    label, checkpoint = checkpoint_file(paths, info, args.checkpoint)
    settings = parse_settings(args.overrides)
    cfg, damage = read_config(paths)
    if damage is not None:
        raise UserError(f"run {paths.run_id} cannot be re-evaluated: {damage}")
    cfg = resolve_config(cfg, [f"{key}={value}" for key, value in settings.items()])
    request = {
        "run_dir": str(paths.root),
        "config": cfg,
        "checkpoint": str(checkpoint),
        "label": label,
        "settings": settings,
    }
    print(f"evaluating {paths.run_id} checkpoint {label} ({checkpoint.name}) …", file=sys.stderr)
    records = call_engine("engine.reevaluate", request, timeout=24 * 3600)
    if args.json:
        print(json.dumps(records, indent=1))
        return 0
    console = console_for()
    console.print(metrics_table(f"{label} re-evaluated", {r["split"]: r["metrics"] for r in records}))
    for record in records:
        console.print(f"{record['split']} ({record['role']}): {summary(record['fingerprint'])}", markup=False)
    return 0


def checkpoint_file(paths: RunPaths, info: dict[str, Any], which: str) -> tuple[str, Path]:
    """(label, file) of `which`: last, best, N or step_N; one message naming the stored ones otherwise."""
    kept = {
        int(k["step"]): k for k in info.get("checkpoints_kept") or [] if isinstance(k, dict) and "step" in k
    }
    number = re.fullmatch(r"(?:step_?)?(\d+)", which)
    if which in ("last", "best"):
        label, path = which, paths.checkpoints / f"{which}.pt"
    elif number:
        step = int(number.group(1))
        label = f"step_{step:06d}"
        path = paths.root / kept[step]["path"] if step in kept else paths.checkpoints / f"{label}.pt"
    else:
        raise UserError(f"--checkpoint {which}: expected last, best or a step number; {available(paths)}")
    if not path.is_file():
        raise UserError(f"run {paths.run_id} has no checkpoint {label}; {available(paths)}")
    return label, path


def available(paths: RunPaths) -> str:
    """ "stored: last, best, 500, 1000" (or that there is none)."""
    names = sorted(p.stem for p in paths.checkpoints.glob("*.pt")) if paths.checkpoints.is_dir() else []
    shown: list[str] = [n for n in ("last", "best") if n in names]
    shown += [str(int(n.removeprefix("step_"))) for n in names if re.fullmatch(r"step_\d+", n)]
    return f"stored: {', '.join(shown)}" if shown else "it stored no checkpoint"


def parse_settings(items: list[str]) -> dict[str, str]:
    """key=value overrides of eval.* settings, in order (the values as written: the config parses them)."""
    settings: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"expected key=value, got {item!r}")
        if not key.startswith(OVERRIDABLE):
            raise UserError(
                f"{key}: a re-evaluation changes only eval.* settings (eval.test_sets, eval.image_size, "
                f"eval.positive_radius_m, eval.recall_at, ...); to change training, rerun"
            )
        settings[key] = value
    return settings
