"""The engine process: `python -m engine.worker RUN_DIR` trains the run described by RUN_DIR/config.yaml."""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

from engine.errors import UserError
from engine.protocol import ControlReader, EventWriter, RunPaths, update_run_info


class Interrupted(Exception):
    """A termination signal arrived before the training loop could take it gracefully."""


def main(argv: list[str] | None = None) -> int:
    """Run one training job; exit 0 completed/stopped/interrupted, 1 failed, 2 bad config or data."""
    args = sys.argv[1:] if argv is None else argv
    resume = "--resume" in args
    args = [a for a in args if a != "--resume"]
    if len(args) != 1:
        print("usage: python -m engine.worker RUN_DIR [--resume]", file=sys.stderr)
        return 2
    paths = RunPaths(Path(args[0]).resolve())
    update_run_info(paths.run_json, status="running", started=time.time(), pid=os.getpid(), error=None)
    events = EventWriter(paths.events)
    events.emit("status", status="running", message=f"pid {os.getpid()}")
    holder: dict[str, Any] = {}
    _install_signal_handlers(holder)
    status, error, code = "failed", None, 1
    try:
        cfg = yaml.safe_load(paths.config.read_text(encoding="utf-8"))
        status, error = _train(paths, cfg, events, holder, resume)
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
        _finish(paths, events, status, error)
    return code


def _install_signal_handlers(holder: dict[str, Any]) -> None:
    """SIGTERM/SIGINT: the loop checkpoints and ends as `interrupted`; before the loop exists, stop at once."""

    def handle(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        trainer = holder.get("trainer")
        if trainer is None:
            raise Interrupted(f"received {name} before training started")
        trainer.stop_signal = name

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _train(paths: RunPaths, cfg: dict[str, Any], events: EventWriter, holder: dict[str, Any],
           resume: bool) -> tuple[str, str | None]:
    from engine.data.ensure import ensure_data

    ensure_data(cfg, events)
    events.emit("phase", phase="loading", message="importing torch and building the model")
    from engine.runtime import make_runtime, seed_everything
    from engine.steering import Steering
    from engine.tasks import TASKS
    from engine.trainer import Trainer

    runtime = make_runtime(cfg["device"])
    generator = seed_everything(cfg["train"]["seed"])
    task = TASKS.build(cfg["task"]["name"], cfg, runtime, generator)
    trainer = Trainer(paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events))
    if resume:
        from engine.checkpoint import load_checkpoint

        trainer.restore(load_checkpoint(paths.checkpoints / "last.pt"))
    holder["trainer"] = trainer
    print(f"[labconsole] {paths.run_id}: training {cfg['train']['max_steps']} steps on {runtime.device}", flush=True)
    events.emit("phase", phase="training")
    status = trainer.run()
    return status, trainer.failure or None


def _finish(paths: RunPaths, events: EventWriter, status: str, error: str | None) -> None:
    events.emit("status", status=status, **({"message": error} if error else {}))
    events.close()
    update_run_info(paths.run_json, status=status, ended=time.time(), error=error)
    print(f"[labconsole] {paths.run_id}: {status}" + (f" ({error})" if error else ""), flush=True)


if __name__ == "__main__":
    sys.exit(main())
