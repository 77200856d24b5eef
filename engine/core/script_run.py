"""A run written directly by any Python script (no engine): the same run folder, events and steering.

    from engine.core.script_run import init

    with init(name="my-loop", config={"optim": {"lr": 1e-3}}, tags=["baseline"]) as run:
        for step in range(1, 1001):
            ...
            run.log({"loss/total": loss}, step=step)
            for command in run.poll_control():
                ...  # apply command["values"], then:
                run.answer(command, applied=True)
        run.eval("val", {"top1": 91.2}, step=step)

`labconsole ls`, `show`, the console and `labconsole set RUN optim.lr=1e-4` work on it as on an engine run.
Scalar names follow the engine's, so the monitor draws them in its charts: `loss/<component>`, `lr/<group>`,
`grad_norm`.
Torch-free: it writes through the engine's own EventWriter (events.jsonl + events.cols) and run.json helpers.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from engine.core.protocol import (
    ControlReader,
    EventWriter,
    RunPaths,
    create_run,
    new_run_info,
    resolve_runs_dir,
    this_host,
    update_run_info,
    write_json_atomic,
)
from engine.core.protocol.runinfo import rounded_metrics

__all__ = ["ScriptRun", "init"]

PROGRESS_INTERVAL_S = 1.0
"""Longest time run.json's progress lags behind `log` calls (an atomic rewrite is not free)."""


def init(
    name: str | None = None,
    config: dict[str, Any] | None = None,
    tags: Iterable[str] = (),
    runs_dir: str | os.PathLike[str] | None = None,
    task: str = "custom",
    main_metric: str | None = None,
    metric_order: Iterable[str] | None = None,
    max_steps: int = 0,
    settable: Iterable[str] = (),
    higher_is_better: bool = True,
) -> ScriptRun:
    """Start a run in `runs_dir` (else $LABCONSOLE_RUNS, else ./runs) and return it, status running.

    Args:
        config: What the script runs with; stored as config.yaml (compare and the console diff it).
        main_metric: The metric `best` is chosen by; default: the first metric of the first `eval`.
        metric_order: Reading order of the eval metrics; default: the order of the first `eval`.
        max_steps: The step the loop ends at, for the progress bar and ETA (0: unknown).
        settable: The keys `poll_control` commands may set (e.g. "optim.lr"), listed by the console.
        higher_is_better: False when the main metric is a loss or an error rate.
    """
    return ScriptRun(
        resolve_runs_dir(runs_dir),
        name=name,
        config=config,
        tags=tags,
        task=task,
        main_metric=main_metric,
        metric_order=metric_order,
        max_steps=max_steps,
        settable=settable,
        higher_is_better=higher_is_better,
    )


class ScriptRun:
    """One run driven by the caller's loop; use `init` to make one."""

    def __init__(
        self,
        runs_dir: Path,
        *,
        name: str | None,
        config: dict[str, Any] | None,
        tags: Iterable[str],
        task: str,
        main_metric: str | None,
        metric_order: Iterable[str] | None,
        max_steps: int,
        settable: Iterable[str],
        higher_is_better: bool,
    ) -> None:
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"config must be a mapping, got {type(config).__name__}")
        self.paths: RunPaths = create_run(runs_dir, name)
        """The run folder and its files."""
        self.step = 0
        """The last step logged or evaluated."""
        self.max_steps = int(max_steps)
        self.status: str | None = None
        """None while the run is live; its final status once finished."""
        self._main_metric = main_metric
        self._sign = 1.0 if higher_is_better else -1.0
        self._best_score = -math.inf
        self._best: dict[str, dict[str, Any]] = {}
        self._best_step: int | None = None
        self._final: dict[str, dict[str, Any]] = {}
        self._final_steps: dict[str, int] = {}
        self._roles: dict[str, str] = {}
        self._main_split: str | None = None
        self._last_progress = time.monotonic()
        self.stop_requested = False
        """True once `labconsole stop` was received: the loop should end (the context manager then records
        stopped)."""
        self.paths.config.write_text(yaml.safe_dump(config or {}, sort_keys=False), encoding="utf-8")
        argv = [sys.executable, *sys.argv]
        info = new_run_info(self.paths.run_id, name, task, argv, tags=tags, max_steps=self.max_steps)
        info.update(status="running", started=time.time(), pid=os.getpid(), host=this_host())
        if main_metric is not None:
            info["main_metric"] = main_metric
        if metric_order is not None:
            info["metric_order"] = list(metric_order)
        if settable:
            info["settable"] = list(settable)
        info["provenance"] = _provenance(argv, self.paths.root)
        write_json_atomic(self.paths.run_json, info)
        self.events = EventWriter(self.paths.events)
        """The engine's writer: a call only enqueues; a thread writes events.jsonl and events.cols."""
        self.events.emit("status", status="running", message=f"pid {os.getpid()} on {this_host()}")
        self._control = ControlReader(self.paths.control)

    @property
    def id(self) -> str:
        """The run id (its folder's name), what `labconsole show` and `set` take."""
        return self.paths.run_id

    # -- logging ------------------------------------------------------------------------------------------------
    def log(self, values: dict[str, float], step: int) -> None:
        """Record training scalars ("loss/total", "lr/<group>", "grad_norm", …) at `step`; costs about a microsecond."""
        self.events.scalar(step, values)
        self.step = step
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self._write_progress()

    def eval(
        self, split: str, metrics: dict[str, float], step: int | None = None, role: str = "test"
    ) -> None:
        """Record one evaluation of `split`; run.json's `final` and `best` follow (best by the main metric on the
        first split evaluated, holding every split's metrics of that evaluation, as the engine keeps them)."""
        if role not in ("val", "test"):
            raise ValueError(f"role must be 'val' or 'test', got {role!r}")
        step = self.step if step is None else step
        self.step = max(self.step, step)
        metrics = rounded_metrics(dict(metrics))
        self.events.emit("eval", step=step, split=split, role=role, metrics=metrics)
        fields: dict[str, Any] = {}
        if self._main_metric is None and metrics:
            self._main_metric = next(iter(metrics))
            fields["main_metric"] = self._main_metric
            fields.setdefault("metric_order", list(metrics))
        if self._main_split is None and self._main_metric in metrics:
            self._main_split = split
        self._final[split], self._final_steps[split], self._roles[split] = metrics, step, role
        self._update_best(split, metrics, step)
        update_run_info(
            self.paths.run_json,
            final=self._final,
            best=self._best,
            best_step=self._best_step,
            roles=self._roles,
            progress=self._progress(),
            **fields,
        )

    def _update_best(self, split: str, metrics: dict[str, Any], step: int) -> None:
        if split == self._main_split:
            value = metrics.get(self._main_metric or "")
            score = self._sign * float(value) if isinstance(value, (int, float)) else -math.inf
            if score > self._best_score or not self._best:
                self._best_score, self._best_step = score, step
                self._best = {s: m for s, m in self._final.items() if self._final_steps[s] == step}
                self._best = {split: metrics, **self._best}  # the main split first: readers take the first
        elif step == self._best_step:
            self._best[split] = metrics

    # -- steering -----------------------------------------------------------------------------------------------
    def poll_control(self) -> list[dict[str, Any]]:
        """`set` commands appended since the last poll (e.g. {"id", "action": "set", "values": {"optim.lr": 1e-4}}),
        for the loop to apply and then `answer`. Other actions and unreadable lines are answered here: stop
        ends the run's loop only if the script checks `stop_requested`; the rest are rejected."""
        wanted = []
        for command in self._control.poll():
            if command.get("error"):
                self.answer(command, applied=False, reason=command["error"])
            elif command.get("action") == "set":
                wanted.append(command)
            elif command.get("action") == "stop":
                self.stop_requested = True
                self.answer(command, applied=True)
            else:
                self.answer(
                    command, applied=False, reason=f"this script does not handle {command.get('action')}"
                )
        return wanted

    def answer(
        self,
        command: dict[str, Any],
        applied: bool = True,
        reason: str = "",
        values: dict[str, Any] | None = None,
        step: int | None = None,
    ) -> None:
        """Report a command applied or rejected (with `reason`), as the engine's `control` event: the CLI and the
        console print it ("applied at step N"). `values`: what was actually set, when it differs from asked."""
        fields: dict[str, Any] = {
            "id": command.get("id"),
            "action": command.get("action"),
            "status": "applied" if applied else "rejected",
            "values": values if values is not None else command.get("values") or {},
        }
        if reason:
            fields["reason"] = reason
        self.events.emit("control", step=self.step if step is None else step, **fields)
        self.events.flush()  # the CLI is waiting for this line

    # -- the end ------------------------------------------------------------------------------------------------
    def finish(self, status: str = "completed", error: str | None = None) -> None:
        """Mark the run ended (completed, failed, stopped or interrupted) and close its files; idempotent."""
        if self.status is not None:
            return
        if status not in ("completed", "failed", "stopped", "interrupted"):
            raise ValueError(f"status must be completed, failed, stopped or interrupted, got {status!r}")
        self.status = status
        if not self.max_steps:  # unknown while running; at the end, the run went as far as it went
            self.max_steps = self.step
        self.events.emit("status", step=self.step, status=status, **({"message": error} if error else {}))
        self.events.close()
        update_run_info(
            self.paths.run_json,
            status=status,
            ended=time.time(),
            error=error,
            exit_code=1 if status == "failed" else 0,
            progress=self._progress(),
        )

    def __enter__(self) -> ScriptRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.finish("stopped" if self.stop_requested else "completed")
        elif isinstance(exc, KeyboardInterrupt):
            self.finish("interrupted", "interrupted (KeyboardInterrupt)")
        else:
            self.finish("failed", f"{type(exc).__name__}: {exc}")

    def _progress(self) -> dict[str, Any]:
        return {"step": self.step, "max_steps": self.max_steps, "epoch": 0}

    def _write_progress(self) -> None:
        update_run_info(self.paths.run_json, progress=self._progress())


def _provenance(argv: list[str], run_root: Path) -> dict[str, Any]:
    """What the script ran as: its checkout's commit (and diff), versions, host, command."""
    from engine.core.provenance import code_state, host_facts, package_versions

    script = Path(sys.argv[0]).resolve().parent if sys.argv and sys.argv[0] else Path.cwd()
    return {
        "code": code_state(script, run_root),
        "versions": package_versions(),
        "host": host_facts(),
        "command": shlex.join(argv),
        "cwd": os.getcwd(),
    }
