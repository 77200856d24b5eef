"""`labconsole set RUN key=value ...` and `labconsole stop RUN`: steer a live run through its control channel.

A Slurm run still queued has no engine reading the channel: `stop` cancels its job instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from engine.core.config.overrides import parse_override
from engine.core.errors import UserError, did_you_mean
from engine.core.protocol import EventReader, RunPaths, effective_status, read_json, send_control
from engine.core.protocol.listing import read_run_info, run_status
from engine.core.protocol.runinfo import paused_now
from tui.cli.common import RUNS_DIR_PARENT, lookup

ANSWER_TIMEOUT_S = 30.0


def add_parsers(verbs: argparse._SubParsersAction) -> None:
    set_parser = verbs.add_parser(
        "set",
        parents=[RUNS_DIR_PARENT],
        help="change a live run's settings (e.g. optim.lr)",
        description="Change settings of a live run; the engine applies them at its next step, all or none, "
        "and answers applied (exit 0) or rejected with the reason and the settable keys (exit 2).",
    )
    set_parser.add_argument("run", metavar="RUN", help="run id, unique id prefix, or unique name")
    set_parser.add_argument("values", nargs="+", metavar="key=value", help="e.g. optim.lr=1e-4")
    set_parser.add_argument("--no-wait", action="store_true", help="do not wait for the engine's answer")
    set_parser.set_defaults(handler=set_values)
    for verb, text in (
        ("stop", "stop a run gracefully (checkpoint, status stopped)"),
        ("pause", "hold a live run between steps (its process stays; unpause continues it)"),
        ("unpause", "continue a paused run (a stopped or interrupted run: labconsole resume)"),
    ):
        parser = verbs.add_parser(verb, parents=[RUNS_DIR_PARENT], help=text)
        parser.add_argument("run", metavar="RUN", help="run id, unique id prefix, or unique name")
        parser.add_argument("--no-wait", action="store_true", help="do not wait for the engine's answer")
        parser.set_defaults(handler=simple_action, action="resume" if verb == "unpause" else verb)


def _live(args: argparse.Namespace) -> RunPaths:
    paths = lookup(args, args.run)
    info = read_run_info(paths.root) or {}
    status = run_status(info)
    if status not in ("running", "queued"):
        why = f": {info['damage']}" if info.get("damage") else ""
        hint = ""
        if getattr(args, "action", None) == "resume" and status in ("stopped", "interrupted"):
            hint = f"; to continue it from its last checkpoint: labconsole resume {paths.run_id}"
        raise UserError(f"run {paths.run_id} is not running (status {status}){why}{hint}")
    return paths


def set_values(args: argparse.Namespace) -> int:
    paths = _live(args)
    values = {".".join(parts): value for parts, value in map(parse_override, args.values)}
    return _send_and_wait(paths, "set", values, args.no_wait)


CANNOT_SET, SETTABLE_MARK = "cannot set ", "; settable: "
"""How the engine's rejection of unknown keys names them and the keys it accepts (engine/steering.py)."""


def with_suggestions(reason: str) -> str:
    """The engine's rejection with "(did you mean 'optim.lr'?)" after each mistyped key it names.

    The engine answers `cannot set optim.lrr; settable: optim.lr, ..., freeze.<group>`; the closest settable
    key is found against that list, so the CLI keeps no copy of it.
    """
    head, mark, listed = reason.partition(SETTABLE_MARK)
    if not mark or not head.startswith(CANNOT_SET):
        return reason
    settable = [key.strip() for key in listed.split(",") if key.strip()]
    unknown = head[len(CANNOT_SET) :].split(", ")
    hinted = [key + did_you_mean(key, settable) for key in unknown]
    return CANNOT_SET + ", ".join(hinted) + mark + listed


def simple_action(args: argparse.Namespace) -> int:
    paths = _live(args)
    paused = paused_now(paths.events)
    if args.action == "pause" and paused:
        print(f"run {paths.run_id} is already paused (labconsole unpause {paths.run_id} continues it)")
        return 0
    if args.action == "resume" and not paused:
        print(f"run {paths.run_id} is not paused: nothing to unpause")
        return 0
    info = read_json(paths.run_json) or {}
    if args.action == "stop" and info.get("slurm_job_id"):
        return _stop_slurm_run(paths, info, args.no_wait)
    return _send_and_wait(paths, args.action, None, args.no_wait)


def _send_and_wait(paths: RunPaths, action: str, values: dict[str, Any] | None, no_wait: bool) -> int:
    """Send one command; print the engine's answer (applied, or rejected with the reason)."""
    command_id, answer = _send(paths, action, values, no_wait)
    if answer is not None:
        return _report(answer)
    if no_wait:
        return 0
    ended = _ended(paths)
    if ended:
        print(
            f"error: {action} ({command_id}) not applied: the run ended ({ended}) before answering",
            file=sys.stderr,
        )
    else:
        print(
            f"error: {action} ({command_id}) not answered within {ANSWER_TIMEOUT_S:.0f} s; it is queued and the "
            f"engine applies it at its next step (follow with `labconsole show {paths.run_id}`)",
            file=sys.stderr,
        )
    return 1


def _ended(paths: RunPaths) -> str:
    """ "failed: loss became nan" when the run is over, else ""."""
    info = read_json(paths.run_json) or {}
    status = effective_status(info)
    if status in ("running", "queued", "paused"):
        return ""
    return f"{status}: {info['error']}" if info.get("error") else str(status)


def _send(
    paths: RunPaths, action: str, values: dict[str, Any] | None, no_wait: bool
) -> tuple[str, dict[str, Any] | None]:
    """Send one command and wait for the engine's answer event (None: not waited for, or none in time)."""
    reader = EventReader(paths.events)
    reader.read_new()  # skip history: only answers after now matter
    command_id = send_control(paths.control, action, values)
    if no_wait:
        print(f"sent {action} ({command_id})")
        return command_id, None
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while time.monotonic() < deadline:
        for event in reader.read_new():
            if event.get("kind") == "control" and event.get("id") == command_id:
                return command_id, event
        if _ended(paths):
            break  # a finished run never answers
        time.sleep(0.2)
    last = [e for e in reader.read_new() if e.get("kind") == "control" and e.get("id") == command_id]
    return command_id, last[0] if last else None


def _stop_slurm_run(paths: RunPaths, info: dict[str, Any], no_wait: bool) -> int:
    """Queued: cancel the job. Running: stop gracefully (checkpoint, stopped); cancel if the engine never answers."""
    from engine.core.slurm import cancel_job, cancel_queued_run

    job = info["slurm_job_id"]
    if info.get("status") == "queued":
        print(cancel_queued_run(paths, info))
        return 0
    command_id, answer = _send(paths, "stop", None, no_wait)
    if answer is not None:
        return _report(answer)
    if no_wait:
        return 0
    cancel_job(info)  # Slurm sends SIGTERM first: the engine checkpoints and ends as interrupted
    print(f"sent stop ({command_id}); no answer within {ANSWER_TIMEOUT_S:.0f} s: cancelled Slurm job {job}")
    return 0


def _report(event: dict[str, Any]) -> int:
    if event.get("status") == "applied":
        shown = " ".join(f"{k}={v}" for k, v in (event.get("values") or {}).items())
        print(f"applied at step {event.get('step')}: {event.get('action')} {shown}".rstrip())
        return 0
    reason = str(event.get("reason") or "no reason given")
    raise UserError(f"rejected: {with_suggestions(reason)}")
