"""`labconsole rerun RUN`: a new run from a run's stored config, warning about what changed since it ran."""

from __future__ import annotations

import argparse
import sys

from engine.core.errors import UserError
from engine.core.launch import prepare_run
from engine.core.protocol import update_run_info
from engine.core.watch import watch_spec
from tui.cli.common import RUNS_DIR_PARENT, lookup, read_config, runs_dir_of
from tui.cli.run_cmd import start_and_follow
from tui.cli.watch_cmd import rewatch
from tui.data.rerun import NO_PROVENANCE, changes_since, rerun_request


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "rerun",
        parents=[RUNS_DIR_PARENT],
        help="launch a new run from a run's stored config; warns when code or versions changed since",
        description="Launch a new run from RUN's config.yaml (the fully resolved config it trained with), under "
        "a fresh name. Before launching, compares RUN's recorded provenance (code commit and uncommitted diff, "
        "package versions, weights files) with this machine's and names every difference.",
    )
    parser.add_argument("run", metavar="RUN", help="run id, unique id prefix, or unique name")
    parser.add_argument("--name", help="the new run's name (default: RUN's name with a number, e.g. base-2)")
    parser.add_argument("--detach", action="store_true", help="start in the background and return at once")
    parser.set_defaults(handler=rerun)


def rerun(args: argparse.Namespace) -> int:
    """Exit codes as `run`: 0 completed (or stopped), 1 failed, 2 bad input."""
    source = lookup(args, args.run)
    if watch_spec(source) is not None:  # a `labconsole watch` run: the same command in the same folder
        return rewatch(source, runs_dir_of(args), args.name, follow=not args.detach)
    cfg, damage = read_config(source)
    if damage is not None:
        raise UserError(f"run {source.run_id} cannot be rerun: {damage}")
    for change in changes_since(source.root, cfg):
        prefix = "note" if change == NO_PROVENANCE else f"warning: changed since {source.run_id} ran"
        print(f"{prefix}: {change}", file=sys.stderr)
    request = rerun_request(source.root, cfg, args.name)
    paths, cfg = prepare_run(request.source, [], runs_dir_of(args), request.name, list(request.argv))
    update_run_info(paths.run_json, rerun_of=source.run_id)
    return start_and_follow(
        paths, cfg, args.detach, f"run {paths.run_id}  ({paths.root}), a rerun of {source.run_id}"
    )
