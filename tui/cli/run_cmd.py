"""`labconsole run CONFIG`: launch the engine, follow its events with a progress bar, print the Recall table."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from typing import Any

import yaml

from engine.core.errors import UserError
from engine.core.launch import prepare_run, start_engine
from engine.core.protocol import effective_status, read_json, update_run_info
from tui.cli.common import RUNS_DIR_PARENT, lookup, runs_dir_of
from tui.cli.follow import follow_run


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "run",
        parents=[RUNS_DIR_PARENT],
        help="train a run headless; prints the run id",
        description="Train a run (headless). CONFIG is a YAML file or a run preset name.",
    )
    parser.add_argument("config", metavar="CONFIG")
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. optim.lr=1e-4"
    )
    parser.add_argument("--name", help="run name (default: the config's name)")
    parser.add_argument("--detach", action="store_true", help="start in the background and return at once")
    parser.set_defaults(handler=run)
    resume = verbs.add_parser(
        "resume",
        parents=[RUNS_DIR_PARENT],
        help="continue an interrupted or stopped run exactly",
        description="Continue a run from checkpoints/last.pt: step, LR, optimizer, data order, RNGs.",
    )
    resume.add_argument("run", metavar="RUN")
    resume.add_argument("--detach", action="store_true", help="start in the background and return at once")
    resume.set_defaults(handler=resume_run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when the run completes (or is stopped), 1 when it fails, 2 for a bad config."""
    paths, cfg = prepare_run(
        args.config, args.overrides, runs_dir_of(args), args.name, ["labconsole", *sys.argv[1:]]
    )
    process = start_engine(paths)
    _say_where(paths)
    if args.detach:
        print(paths.run_id)
        return 0
    print(f"run {paths.run_id}  ({paths.root})", file=sys.stderr)
    try:
        info = follow_run(paths, cfg, process)
    except KeyboardInterrupt:
        info = _interrupt(paths, cfg, process)
    print(paths.run_id)
    return _exit_code(info, process)


def resume_run(args: argparse.Namespace) -> int:
    """Restart the engine on an existing run folder with --resume; events continue in the same files."""
    paths = lookup(args, args.run)
    info = read_json(paths.run_json) or {}
    status = effective_status(info)
    if status in ("running", "queued"):
        raise UserError(f"run {paths.run_id} is still {status}")
    if not (paths.checkpoints / "last.pt").is_file():
        raise UserError(
            f"run {paths.run_id} has no checkpoint to resume from ({paths.checkpoints / 'last.pt'})"
        )
    cfg = yaml.safe_load(paths.config.read_text(encoding="utf-8"))
    update_run_info(paths.run_json, status="queued", ended=None, error=None)
    process = start_engine(paths, resume=True)
    _say_where(paths)
    if args.detach:
        print(paths.run_id)
        return 0
    try:
        info = follow_run(paths, cfg, process)
    except KeyboardInterrupt:
        info = _interrupt(paths, cfg, process)
    print(paths.run_id)
    return _exit_code(info, process)


def _say_where(paths: Any) -> None:
    """A submitted run: its Slurm job id and where submitit keeps the job's files (on stderr)."""
    info = read_json(paths.run_json) or {}
    if info.get("slurm_job_id"):
        print(
            f"queued as Slurm job {info['slurm_job_id']} (job files: {info.get('slurm_folder')})",
            file=sys.stderr,
        )


def _interrupt(paths: Any, cfg: dict[str, Any], process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Ctrl-C in the foreground ends the run gracefully: the engine checkpoints and marks it interrupted.

    SIGTERM reaches every DDP rank through torchrun; a Slurm job is cancelled (Slurm sends SIGTERM first).
    """
    print(
        "\nstopping: the engine saves a checkpoint first (Ctrl-C again to leave it running)", file=sys.stderr
    )
    process.send_signal(signal.SIGTERM)
    try:
        return follow_run(paths, cfg, process, quiet=True)
    except KeyboardInterrupt:
        print(f"left running in the background: {paths.run_id}", file=sys.stderr)
        raise


def _exit_code(info: dict[str, Any], process: subprocess.Popen[bytes]) -> int:
    code = process.wait()
    if info.get("status") == "failed":
        print(f"run failed: {info.get('error') or 'see output.log'}", file=sys.stderr)
        # the engine's own code: under torchrun or Slurm, the launcher's exit code says only "a rank failed"
        return 2 if info.get("exit_code", code) == 2 else 1
    return 0
