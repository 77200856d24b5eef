"""`labconsole run CONFIG`: launch the engine, follow its events with a progress bar, print the Recall table."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from typing import Any

from engine.core.errors import UserError
from engine.core.launch import prepare_run, start_engine
from engine.core.protocol import RunPaths, read_json, update_run_info
from engine.core.protocol.checkpoints import newest_checkpoint
from engine.core.protocol.listing import read_run_info, run_status
from engine.core.protocol.runinfo import paused_now
from tui.cli.common import RUNS_DIR_PARENT, lookup, read_config, runs_dir_of
from tui.cli.follow import follow_run


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "run",
        parents=[RUNS_DIR_PARENT],
        help="train a run headless; prints the run id",
        description="Train a run (headless). CONFIG is a YAML file or a run preset name, or a recipe name "
        "(NAME@real: its real-data version; labconsole recipes lists them).",
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
        help="restart a stopped or interrupted run from its checkpoint (a paused run: unpause)",
        description="Restart a stopped or interrupted run from its newest checkpoint (last.pt or best.pt): step, "
        "LR, optimizer, data order, RNGs, in the same run folder. A paused run still has its process: "
        "labconsole unpause continues it.",
    )
    resume.add_argument("run", metavar="RUN")
    resume.add_argument("--detach", action="store_true", help="start in the background and return at once")
    resume.set_defaults(handler=resume_run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when the run completes (or is stopped), 1 when it fails, 2 for a bad config."""
    paths, cfg = prepare_run(
        args.config, args.overrides, runs_dir_of(args), args.name, ["labconsole", *sys.argv[1:]]
    )
    return start_and_follow(paths, cfg, args.detach, f"run {paths.run_id}  ({paths.root})")


def start_and_follow(
    paths: RunPaths, cfg: dict[str, Any], detach: bool, banner: str | None = None, resume: bool = False
) -> int:
    """Start the engine on a prepared run folder; detached, print the run id and return, else follow the run
    (Ctrl-C stops it gracefully) and exit as it ended."""
    process = start_engine(paths, resume=resume)
    _say_where(paths)
    if detach:
        print(paths.run_id)
        return 0
    if banner:
        print(banner, file=sys.stderr)
    try:
        info = follow_run(paths, cfg, process)
    except KeyboardInterrupt:
        info = _interrupt(paths, cfg, process)
    print(paths.run_id)
    return _exit_code(info, process, paths)


def resume_run(args: argparse.Namespace) -> int:
    """Restart the engine on an existing run folder with --resume; events continue in the same files."""
    paths = lookup(args, args.run)
    info = read_run_info(paths.root) or {}
    if info.get("damage"):
        raise UserError(f"run {paths.run_id} cannot be resumed: {info['damage']}")
    status = run_status(info)
    if status == "running" and paused_now(paths.events):
        raise UserError(
            f"run {paths.run_id} is paused, not stopped: labconsole unpause {paths.run_id} continues it "
            "(resume restarts a stopped or interrupted run from its checkpoint)"
        )
    if status in ("running", "queued"):
        raise UserError(f"run {paths.run_id} is still {status}")
    if status == "completed":
        raise UserError(
            f"run {paths.run_id} completed all its steps: nothing to resume (to train further, launch a new run "
            f"from its config: labconsole run {paths.config})"
        )
    if newest_checkpoint(paths) is None:
        raise UserError(f"run {paths.run_id} has no checkpoint to resume from (none in {paths.checkpoints})")
    cfg = _run_config(paths)
    update_run_info(paths.run_json, status="queued", ended=None, error=None)
    return start_and_follow(paths, cfg, args.detach, resume=True)


def _run_config(paths: RunPaths) -> dict[str, Any]:
    """The run's config.yaml, or one line saying why it cannot be resumed."""
    cfg, damage = read_config(paths)
    if damage is None and not isinstance(cfg.get("device"), dict):
        damage = "config.yaml is damaged: it is not a resolved run config (no device section)"
    if damage is not None:
        raise UserError(f"run {paths.run_id} cannot be resumed: {damage}")
    return cfg


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


def _exit_code(info: dict[str, Any], process: subprocess.Popen[bytes], paths: RunPaths) -> int:
    """0 when the run completed, was stopped or interrupted as asked; 1 when it failed or its engine died."""
    code = process.wait()
    if info.get("status") == "failed":
        print(f"run failed: {info.get('error') or 'see output.log'}", file=sys.stderr)
        # the engine's own code: under torchrun or Slurm, the launcher's exit code says only "a rank failed"
        return 2 if info.get("exit_code", code) == 2 else 1
    if info.get("status") in ("completed", "stopped", "interrupted"):
        if code:  # e.g. a DDP rank that failed to leave its process group after the run's end was recorded
            print(
                f"warning: the run ended {info['status']}, but its launcher exited with code {code} "
                f"(see {paths.output_log})",
                file=sys.stderr,
            )
        return 0
    print(f"run {paths.run_id} ended without finishing: {_engine_death(code, paths)}", file=sys.stderr)
    return 1


def _engine_death(code: int | None, paths: RunPaths) -> str:
    """Why the engine process ended without recording an end: the signal that killed it, or its last words."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        cause = " (out of memory, or kill -9)" if name == "SIGKILL" else ""
        return f"the engine was killed by {name}{cause}; see {paths.output_log}"
    return f"the engine exited with code {code}: {_last_error_line(paths)}"


def _last_error_line(paths: RunPaths) -> str:
    try:
        with open(paths.output_log, "rb") as log:
            log.seek(max(0, log.seek(0, 2) - 4096))
            lines = [
                line.strip() for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()
            ]
    except OSError:
        lines = []
    return lines[-1] if lines else f"see {paths.output_log}"
