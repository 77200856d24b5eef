"""The local sweep queue: `python -m engine.core.sweep.queue <sweep folder>`, started detached by `labconsole
sweep` in a session of its own (closing the console or losing SSH never stops it).

It runs `parallel` points at a time, each as an ordinary detached run (prepare_run + start_engine), follows
their run.json, and records each point's run id and status in state.json; a failed run never stops the rest.
Pause: no new starts. Stop: no new starts, the points not started are skipped (the running ones were sent
`stop` by whoever asked, through their control channel). It ends once no point is left to run, or when
stopped and nothing runs any more.

Restarting (after a reboot, or `labconsole sweep resume`): a point whose run is still live is followed again; a
point whose run's engine died (interrupted) or was stopped continues from its newest checkpoint through the
runs' own resume path (`start_engine(resume=True)`, same run folder); without a checkpoint it starts over as a
new run.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.launch import start_engine
from engine.core.protocol import RunPaths, effective_status, read_json, update_run_info
from engine.core.sweep.plan import prepare_point, resumable
from engine.core.sweep.store import SweepPaths, hold_pid_file, locked, read_plan, read_state, write_state

POLL_S = 1.0
_RUN_ENDED = {"completed": "completed", "failed": "failed", "stopped": "stopped"}


def say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", flush=True)


class SweepQueue:
    """Starts and follows the points of one sweep; `tick` is one look, under the sweep's lock."""

    def __init__(self, paths: SweepPaths) -> None:
        self.paths = paths
        self.runs_dir = paths.runs_dir
        self.engines: dict[int, Any] = {}
        """Point index → the engine process this queue started (polled so it never lingers as a zombie)."""
        self.ending = False

    def recover(self) -> None:
        """At start: points left running by an earlier queue whose engine is gone are queued to continue."""
        with locked(self.paths):
            state = read_state(self.paths)
            for point in state["points"]:
                if point["status"] == "running" and point.get("run_id"):
                    status = self._run_status(point["run_id"])
                    if status == "interrupted":
                        point.update(status="queued", resume=True)
                        say(
                            f"point {point['index']}: run {point['run_id']} was interrupted; queued to resume"
                        )
            write_state(self.paths, state)

    def tick(self) -> bool:
        """One look: record ended runs, start what the slots allow. True once the queue has nothing left."""
        for engine in self.engines.values():
            engine.poll()
        with locked(self.paths):
            plan, state = read_plan(self.paths), read_state(self.paths)
            points = state["points"]
            for point in points:
                if point["status"] == "running":
                    self._follow(point, bool(state.get("stop_requested")))
            if state.get("stop_requested"):
                for point in points:
                    if point["status"] == "queued":
                        point["status"] = "skipped"
            elif not state.get("paused") and not self.ending:
                running = sum(p["status"] == "running" for p in points)
                for point in points:
                    if running >= int(plan.get("parallel") or 1):
                        break
                    if point["status"] == "queued":
                        self._start(plan, point, len(points))
                        running += point["status"] == "running"
            write_state(self.paths, state)
            live = [p for p in points if p["status"] in ("running", "queued")]
            if self.ending:
                return True
            return not live or (
                bool(state.get("stop_requested")) and not any(p["status"] == "running" for p in live)
            )

    def _run_status(self, run_id: str) -> str:
        info = read_json(RunPaths(self.runs_dir / run_id).run_json)
        return effective_status(info) if info is not None else "failed"

    def _follow(self, point: dict[str, Any], stopping: bool) -> None:
        status = self._run_status(point["run_id"])
        if status in ("queued", "running"):
            return
        ended = _RUN_ENDED.get(status) or ("stopped" if stopping else "failed")
        point["status"] = ended
        self.engines.pop(point["index"], None)
        say(f"point {point['index']}: run {point['run_id']} {status}")

    def _start(self, plan: dict[str, Any], point: dict[str, Any], total: int) -> None:
        """Start a queued point (continue its run from a checkpoint when it has one to resume); a point that
        cannot start is failed with the reason, and the queue goes on."""
        try:
            run_paths = resumable(self.paths, point)
            resume = run_paths is not None
            if run_paths is None:
                run_paths = prepare_point(self.paths, plan, point, total)
            else:
                update_run_info(run_paths.run_json, status="queued", ended=None, error=None)
            self.engines[point["index"]] = start_engine(run_paths, resume=resume)
        except UserError as exc:
            point.update(status="failed", error=str(exc))
            say(f"point {point['index']}: cannot start: {exc}")
            return
        point.pop("resume", None)
        point.pop("error", None)
        point.update(run_id=run_paths.run_id, status="running")
        say(f"point {point['index']}: {'resumed' if resume else 'started'} run {run_paths.run_id}")

    def run(self) -> int:
        self.recover()
        while not self.tick():
            time.sleep(POLL_S)
        say("queue ends: no point left to start")
        return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m engine.core.sweep.queue SWEEP_FOLDER", file=sys.stderr)
        return 2
    paths = SweepPaths(Path(args[0]).absolute())
    try:
        pid_fd = hold_pid_file(paths)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    queue = SweepQueue(paths)

    def end_soon(_signum: int, _frame: Any) -> None:
        # the runs live in sessions of their own and go on; a later `sweep resume` follows them again
        queue.ending = True

    signal.signal(signal.SIGTERM, end_soon)
    say(f"queue (pid {os.getpid()}) started for sweep {paths.sweep_id}")
    try:
        return queue.run()
    except Exception:
        say("queue failed:\n" + traceback.format_exc())
        return 1
    finally:
        _ = pid_fd  # held open (and locked) until the process ends


if __name__ == "__main__":
    sys.exit(main())
