"""The engine process: `python -m engine.process RUN_DIR` trains the run described by RUN_DIR/config.yaml.

Under DDP the launcher (torchrun, or submitit on Slurm) starts one such process per rank; rank 0 alone writes
the run folder (events, run.json, checkpoints), the others train in lockstep and report only on output.log.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

from engine.core.errors import UserError
from engine.core.protocol import (
    FINISHED,
    ControlReader,
    EventWriter,
    RunPaths,
    read_json,
    this_host,
    update_run_info,
)
from engine.core.protocol.checkpoints import newest_checkpoint
from engine.core.provenance import collect_provenance, differences
from engine.stopping import Interrupted, StopSignals


class SilentEvents:
    """The event writer of ranks > 0: rank 0 alone writes events.jsonl, so the others drop theirs."""

    write_error: OSError | None = None
    """Never set: nothing is written."""

    def emit(self, kind: str, step: int | None = None, **fields: Any) -> None:
        """Drop the event."""

    def scalar(self, step: int, values: dict[str, float]) -> None:
        """Drop the scalars."""

    def system(self, step: int, values: dict[str, float]) -> None:
        """Drop the readings."""

    def flush(self) -> None:
        """Nothing to write."""

    def close(self) -> None:
        """Nothing to close."""


def launch_rank() -> int:
    """This process's rank as the launcher set it (torchrun, submitit); 0 when it runs alone."""
    return int(os.environ.get("RANK", "0"))


def main(argv: list[str] | None = None) -> int:
    """Run one training job; exit 0 completed/stopped/interrupted, 1 failed, 2 bad config or data."""
    args = sys.argv[1:] if argv is None else argv
    resume = "--resume" in args
    args = [a for a in args if a != "--resume"]
    if len(args) != 1:
        print("usage: python -m engine.process RUN_DIR [--resume]", file=sys.stderr)
        return 2
    paths = RunPaths(Path(args[0]).resolve())
    is_main = launch_rank() == 0
    events: Any = EventWriter(paths.events) if is_main else SilentEvents()
    if is_main:
        # host too: a Slurm job runs on a compute node, and a pid means something only on its own host
        update_run_info(
            paths.run_json,
            status="running",
            started=time.time(),
            pid=os.getpid(),
            host=this_host(),
            error=None,
        )
        events.emit("status", status="running", message=f"pid {os.getpid()} on {this_host()}")
    signals = StopSignals().install()
    job = EngineJob(paths, events, signals)
    status, error, code = "failed", None, 1
    try:
        cfg = yaml.safe_load(paths.config.read_text(encoding="utf-8"))
        status, error = job.train(cfg, resume)
        code = 1 if status == "failed" else 0
    except UserError as exc:
        error, code = str(exc), 2
        print(f"error: {exc}", file=sys.stderr, flush=True)
    except Interrupted as exc:
        status, error, code = "interrupted", str(exc), 0
    except Exception as exc:  # the traceback goes to output.log; run.json keeps one readable line
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if is_main:
            code = _finish_or_say_why(paths, events, status, error, code)
        elif status == "failed":
            _record_rank_failure(paths, launch_rank(), error, code)
        job.leave_process_group()  # last: leaving a group whose peers died may block; run.json is written by then
    return code


class EngineJob:
    """One training job in this process: builds the task and the trainer, and hands termination signals to the
    loop once it can checkpoint."""

    def __init__(self, paths: RunPaths, events: Any, signals: StopSignals) -> None:
        self.paths, self.events, self.signals = paths, events, signals
        self.dist: Any = None  # the process group, once joined

    def leave_process_group(self) -> None:
        if self.dist is not None:
            self.dist.close()

    def train(self, cfg: dict[str, Any], resume: bool) -> tuple[str, str | None]:
        """Make or check the data, build the model, train; (final status, error message or None)."""
        from engine.data.ensure import ensure_data

        ensure_data(
            cfg, self.events
        )  # behind a file lock: with several ranks, one makes the data and the others wait
        self.events.emit("phase", phase="loading", message="importing torch and building the model")
        if launch_rank() == 0:
            self._record_provenance(cfg)
        trainer = self._build(cfg, resume)
        self.signals.hand_to_loop()  # from here a signal checkpoints and ends the run `interrupted`
        try:
            self._announce(cfg, trainer)
            status = trainer.train()
        finally:
            trainer.task.close()  # the data loading workers
        return status, trainer.failure or None

    def _record_provenance(self, cfg: dict[str, Any]) -> None:
        """run.json's provenance at the first start; on a resume, an alert naming what changed since."""
        from engine.gpu_facts import accelerator_facts

        info = read_json(self.paths.run_json) or {}
        current = collect_provenance(cfg, self.paths.root, info.get("argv") or [])
        current["accelerators"] = accelerator_facts()
        recorded = info.get("provenance")
        if not isinstance(recorded, dict):
            update_run_info(self.paths.run_json, provenance=current)
            return
        changed = differences(recorded, current)
        if changed:
            self.events.emit(
                "alert",
                level="warning",
                code="provenance_changed",
                message="resumed with other code or packages than the run started with: "
                + "; ".join(changed),
            )

    def _build(self, cfg: dict[str, Any], resume: bool) -> Any:
        """The task and its trainer, restored from checkpoints/last.pt when resuming."""
        from engine.distributed import decorrelate_rank_rngs, init_distributed
        from engine.runtime import make_runtime, seed_everything
        from engine.steering import Steering
        from engine.tasks import TASKS
        from engine.trainer import Trainer

        paths, events = self.paths, self.events
        dist = self.dist = init_distributed(cfg["device"])
        runtime = make_runtime(cfg["device"], dist)
        runtime.notify = lambda phase, message: events.emit("phase", phase=phase, message=message)
        generator = seed_everything(cfg["train"]["seed"])
        with dist.main_first():  # pretrained weights and feature caches are fetched or built once, by rank 0
            task = TASKS.build(cfg["task"]["name"], cfg, runtime, generator)
        trainer = Trainer(
            paths,
            cfg,
            task,
            runtime,
            events,
            Steering(ControlReader(paths.control), events),
            dist=dist,
            signals=self.signals,
        )
        if resume:
            from engine.checkpoint import load_checkpoint

            checkpoint = newest_checkpoint(paths)
            if checkpoint is None:
                raise UserError(f"no checkpoint to resume from in {paths.checkpoints}")
            trainer.restore(load_checkpoint(checkpoint))
        decorrelate_rank_rngs(generator, cfg["train"]["seed"], dist.rank, trainer.step)
        return trainer

    def _announce(self, cfg: dict[str, Any], trainer: Any) -> None:
        """run.json's model summary, main metric and data; output.log's opening lines; the `model` event."""
        paths, events, task, dist = self.paths, self.events, trainer.task, trainer.dist
        summary = trainer.summary()
        data = dict(
            getattr(getattr(task, "plan", None), "summaries", {})
        )  # what was read: format and counts per split
        if dist.is_main:
            update_run_info(
                paths.run_json,
                **summary,
                main_metric=task.main_metric,
                metric_order=task.metric_order(),
                settable=trainer.steering.settable(),
                **({"data": data} if data else {}),
            )
            for split, text in data.items():
                print(f"[labconsole] {paths.run_id}: data {split}: {text}", flush=True)
            print(
                f"[labconsole] {paths.run_id}: training {cfg['train']['max_steps']} steps on "
                f"{trainer.runtime.device}, {_batch_text(cfg, dist.describe(), summary['global_batch'])}",
                flush=True,
            )
            if not trainer.data_sharded:
                events.emit(
                    "alert",
                    level="warning",
                    code="ddp_unsharded",
                    message=f"task {cfg['task']['name']} cannot shard its training data: every process "
                    f"trains on the same batches",
                )
        events.emit("model", **summary)
        events.emit("phase", phase="training")


def _batch_text(cfg: dict[str, Any], processes: str, global_batch: int) -> str:
    """ "2 processes (gloo) × 8 images = global batch 16" (with the accumulation steps when there are several)."""
    train = cfg["train"]
    accum = f" × {train['grad_accum_steps']} accumulation steps" if train["grad_accum_steps"] > 1 else ""
    return f"{processes} × {train['batch_size']} images{accum} = global batch {global_batch}"


def _record_rank_failure(paths: RunPaths, rank: int, error: str | None, code: int) -> None:
    """A rank > 0 failed (e.g. out of memory on its GPU): record why, since the launcher then stops rank 0.

    Not when rank 0 already ended the run: then this rank only lost its peer, and rank 0 recorded the cause.
    """
    message = f"rank {rank}: {error or 'see output.log'}"
    print(f"[labconsole] {paths.run_id}: failed ({message})", flush=True)
    if (read_json(paths.run_json) or {}).get("status") not in FINISHED:
        update_run_info(paths.run_json, status="failed", ended=time.time(), error=message, exit_code=code)


def _finish_or_say_why(paths: RunPaths, events: Any, status: str, error: str | None, code: int) -> int:
    """Record the end; when even that fails (a full disk), say so in one line on output.log and exit 1."""
    try:
        _finish(paths, events, status, error, code)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"[labconsole] {paths.run_id}: {status}"
            + (f" ({error})" if error else "")
            + f"; could not record it in {paths.run_json}: {reason}",
            flush=True,
        )
        return code or 1
    return code


def _finish(paths: RunPaths, events: Any, status: str, error: str | None, code: int) -> None:
    earlier = read_json(paths.run_json) or {}
    if (
        (status == "interrupted" or (status == "failed" and code != 2))
        and earlier.get("status") == "failed"
        and str(earlier.get("error") or "").startswith("rank ")
    ):
        # another rank failed first: rank 0's interruption or lost connection is only the consequence
        status, error, code = "failed", earlier["error"], earlier.get("exit_code", code)
    events.emit("status", status=status, **({"message": error} if error else {}))
    # the disk that ended the run may refuse the last events: run.json still says how it ended
    with contextlib.suppress(OSError):
        events.close()
    # exit_code: what the CLI exits with; a launcher (torchrun, Slurm) in between reports its own code
    update_run_info(paths.run_json, status=status, ended=time.time(), error=error, exit_code=code)
    print(f"[labconsole] {paths.run_id}: {status}" + (f" ({error})" if error else ""), flush=True)


if __name__ == "__main__":
    sys.exit(main())
