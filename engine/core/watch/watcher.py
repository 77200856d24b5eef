"""The watcher process: runs a command as a labconsole run, its output parsed into events.

Started detached by `start_watch` (`python -m engine.core.watch.watcher SPEC_JSON`, in its own session and in the
command's working directory). It creates the run through the logging API (the same run.json, events and control
as any run), prints `RUN <id>` on the pipe `start_watch` reads, moves its own stdout/stderr to the run's
output.log, then starts the command in its own process group with stdout+stderr piped: every byte goes to
output.log, every line (split on \\n and \\r, for progress bars) to the parser, whose readings become scalar,
eval and progress records. `labconsole stop` sends SIGINT to the command's group, SIGTERM after the grace,
SIGKILL after another; SIGTERM/SIGHUP/SIGINT to the watcher itself end the command the same way and the run as
interrupted. Status from the exit code: completed (0), failed (the last output line as the error), stopped.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import json
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.protocol import read_json, update_run_info
from engine.core.script_run import ScriptRun
from engine.core.watch.parsers import AutoParser, LineParser, Reading, make_parser
from engine.core.watch.start import ANNOUNCE, ANNOUNCE_ERROR

POLL_S = 0.2
"""Longest wait for output before the control channel and the stop timers are looked at again."""
MAX_LINE_CHARS = 1 << 20
"""A line longer than this (a binary dump, no newline) is parsed in pieces rather than held whole."""
ERROR_LINES = 20
_LINE_END = re.compile("[\r\n]")
"""Lines end at \n, and at \r too: a progress bar redraws its line after a carriage return."""


class WatchedRun(ScriptRun):
    """A script run whose progress also carries the epoch (passes over the data), as the engine's does."""

    epoch: float = 0.0

    def _progress(self) -> dict[str, Any]:
        return {**super()._progress(), "epoch": round(self.epoch, 4)}


class Watcher:
    """One watched command: its run, its parser, its process."""

    def __init__(self, run: WatchedRun, parser: LineParser | AutoParser, spec: dict[str, Any]) -> None:
        self.run = run
        self.parser = parser
        self.command: list[str] = list(spec["command"])
        self.stop_grace = float(spec.get("stop_grace", 10.0))
        self.child_env = dict(os.environ)
        pythonpath = spec.get("pythonpath")
        if pythonpath:
            self.child_env["PYTHONPATH"] = pythonpath
        else:
            self.child_env.pop("PYTHONPATH", None)  # the watcher's own, pointing into labconsole
        self.child_env.setdefault("PYTHONUNBUFFERED", "1")  # a piped Python script would hold its lines back
        self.last_lines: deque[str] = deque(maxlen=ERROR_LINES)
        self.task_recorded = parser.task != "custom" or isinstance(parser, LineParser)
        self.signalled: str | None = None
        self._ending: list[tuple[float, int]] = []  # (when, signal) still to send to the command's group
        self._ending_started: float | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.parse_error: str | None = None
        """Why parsing stopped (a preset that raised on a line); the output is still copied."""

    # -- the command --------------------------------------------------------------------------------------------
    def start(self) -> str | None:
        """Start the command; the reason when it cannot start."""
        try:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                process_group=0,
                env=self.child_env,
                close_fds=True,
                preexec_fn=_ended_with(os.getpid()),
            )
        except OSError as exc:
            return f"cannot start {self.command[0]}: {exc.strerror or exc}"
        update_run_info(self.run.paths.run_json, child_pid=self.process.pid)
        return None

    def pump(self, log_fd: int) -> int:
        """Copy and parse the command's output until it exits; its exit code."""
        assert self.process is not None and self.process.stdout is not None
        pipe = self.process.stdout.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        partial = ""
        while True:
            ready, _, _ = select.select([pipe], [], [], POLL_S)
            if ready:
                chunk = os.read(pipe, 1 << 16)
                if not chunk:
                    break
                _write_all(log_fd, chunk)
                partial = self._lines(partial + decoder.decode(chunk))
            self._apply(self.parser.tick())
            self._steer()
        self._lines(partial + decoder.decode(b"", final=True) + "\n")
        self._apply(self.parser.finish())
        return self.process.wait()

    def _lines(self, text: str) -> str:
        """Parse every whole line of `text`; the unfinished rest."""
        *lines, rest = _LINE_END.split(text)
        for line in lines:
            if line:
                self._line(line)
        if len(rest) > MAX_LINE_CHARS:
            self._line(rest)
            return ""
        return rest

    def _line(self, line: str) -> None:
        if line.strip():
            self.last_lines.append(line.rstrip())
        if self.parse_error is not None:
            return
        try:
            readings = self.parser.feed(line)
        except (
            ValueError,
            TypeError,
            OverflowError,
            IndexError,
            KeyError,
        ) as exc:  # a user preset gone wrong
            self.parse_error = f"{type(exc).__name__}: {exc}"
            print(
                f"[labconsole watch] parser {self.parser.name} failed on a line; parsing stops: "
                f"{self.parse_error}\n  line: {line[:300]}",
                flush=True,
            )
            return
        self._apply(readings)

    # -- readings into the run ----------------------------------------------------------------------------------
    def _apply(self, readings: list[Reading]) -> None:
        run = self.run
        for reading in readings:
            if reading.max_steps:
                run.max_steps = max(reading.max_steps, reading.step)
            if reading.epoch is not None:
                run.epoch = reading.epoch
            if reading.scalars:
                run.log(reading.scalars, step=reading.step)
            else:
                run.step = max(run.step, reading.step)
            for split, metrics in reading.evals.items():
                role = "val" if split in ("val", "valid", "validation") else "test"
                run.eval(split, metrics, step=reading.step, role=role)
        if not self.task_recorded and isinstance(self.parser, AutoParser) and self.parser.chosen is not None:
            self.task_recorded = True
            update_run_info(run.paths.run_json, task=self.parser.task)

    # -- stopping -----------------------------------------------------------------------------------------------
    def _steer(self) -> None:
        for command in self.run.poll_control():  # stop is answered there and sets stop_requested
            self.run.answer(
                command,
                applied=False,
                reason="a watched command takes no settings (only stop); change its arguments and rerun it",
            )
        if (self.run.stop_requested or self.signalled) and self._ending_started is None:
            self._begin_ending(signal.SIGINT if self.run.stop_requested else signal.SIGTERM)
        now = time.monotonic()
        while self._ending and self._ending[0][0] <= now:
            _, signum = self._ending.pop(0)
            self._signal_group(signum)

    def _begin_ending(self, first: int) -> None:
        """`first` now, then SIGTERM (when first was SIGINT) and SIGKILL, each after the grace."""
        now = time.monotonic()
        self._ending_started = now
        self._signal_group(first)
        later = [signal.SIGTERM, signal.SIGKILL] if first == signal.SIGINT else [signal.SIGKILL]
        self._ending = [(now + self.stop_grace * (i + 1), s) for i, s in enumerate(later)]

    def _signal_group(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):  # gone since the poll
            os.killpg(self.process.pid, signum)
        print(f"[labconsole watch] sent {signal.Signals(signum).name} to the command", flush=True)

    def on_signal(self, signum: int, _frame: Any) -> None:
        self.signalled = signal.Signals(signum).name

    # -- the end ------------------------------------------------------------------------------------------------
    def finish(self, code: int) -> None:
        if self.signalled:
            status, error = "interrupted", f"the watcher received {self.signalled}"
        elif self.run.stop_requested:
            status, error = "stopped", None
        elif code == 0:
            status, error = "completed", None
        else:
            status, error = "failed", self._failure(code)
        self.run.finish(status, error)
        update_run_info(self.run.paths.run_json, exit_code=code, watch=self._watch_info())

    def abandon(self, why: str) -> None:
        """End the command's group at once and the run as failed with `why` (the watcher cannot go on)."""
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(Exception):
            self.run.finish("failed", why)

    def _failure(self, code: int) -> str:
        last = self.last_lines[-1] if self.last_lines else "no output"
        if code < 0:
            return f"{last} (killed by {signal.Signals(-code).name})"
        return f"{last} (exit code {code})"

    def _watch_info(self) -> dict[str, Any]:
        info = (read_json(self.run.paths.run_json) or {}).get("watch") or {}
        return {**info, "parser_used": self.parser.name}


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _script_of(command: list[str]) -> str:
    """The first argument that is a file (train.py of `python train.py`), else the program: provenance looks for
    the code's git checkout from its folder."""
    for arg in command[1:]:
        if not arg.startswith("-") and Path(arg).is_file():
            return arg
    return command[0]


PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal a process receives when its parent ends."""


def _ended_with(watcher: int) -> Callable[[], None] | None:
    """What the command runs before exec (Linux): SIGTERM when the watcher dies (killed with SIGKILL, it can
    neither stop nor record the command), and an immediate exit if the watcher is already gone."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork: no loader locks in the child

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != watcher:
            os._exit(1)

    return arm


def main(argv: list[str] | None = None) -> int:
    spec = json.loads((argv if argv is not None else sys.argv[1:])[0])
    try:
        parser = make_parser(spec["parser"])
        sys.argv = [_script_of(spec["command"]), *spec["command"][1:]]  # what ScriptRun's provenance reads
        run = WatchedRun(
            Path(spec["runs_dir"]),
            name=spec["name"],
            config=spec.get("config"),
            tags=spec.get("tags") or (),
            task=parser.task,
            main_metric=None,
            metric_order=None,
            max_steps=0,
            settable=(),
            higher_is_better=True,
        )
    except UserError as exc:
        print(f"{ANNOUNCE_ERROR}{exc}", flush=True)
        return 2
    update_run_info(
        run.paths.run_json,
        argv=spec.get("argv") or spec["command"],
        command=spec["command"],
        cwd=os.getcwd(),
        watch={"parser": spec["parser"], "stop_grace": spec.get("stop_grace", 10.0)},
        provenance={
            **(read_json(run.paths.run_json) or {}).get("provenance", {}),
            "command": shlex.join(spec["command"]),
        },
        **({"rerun_of": spec["rerun_of"]} if spec.get("rerun_of") else {}),
    )
    log_fd = os.open(run.paths.output_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    print(f"{ANNOUNCE}{run.id}", flush=True)  # the run's files exist from here on
    for fd in (1, 2):  # from here on the starter is gone: the watcher's own words go to the run's log
        os.dup2(log_fd, fd)
    watcher = Watcher(run, parser, spec)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, watcher.on_signal)
    why = watcher.start()
    if why is not None:
        print(f"[labconsole watch] {why}", flush=True)
        run.finish("failed", why)
        update_run_info(run.paths.run_json, exit_code=127)
        return 1
    try:
        code = watcher.pump(log_fd)
    except (
        Exception
    ) as exc:  # the watcher's own fault (a full disk): end the command, record why, not "running"
        watcher.abandon(f"the watcher failed: {type(exc).__name__}: {exc}")
        raise
    watcher.finish(code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
