"""The task-agnostic training loop: steps, logging, evaluation, checkpoints, steering, and graceful stops."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

import torch

from engine.checkpoint import CheckpointWriteError, save_checkpoint
from engine.core.config.eval_sets import TEST, split_roles
from engine.core.config.schema import TrainConfig
from engine.core.errors import ConfigError
from engine.core.protocol import EventWriter, RunPaths, update_run_info
from engine.core.protocol.rundir import read_json
from engine.core.protocol.runinfo import rounded_metrics, rounded_scalar
from engine.core.schedules import SECTION_KEYS
from engine.core.schedules.changes import (
    AUGMENT_ENABLED,
    ScheduledChange,
    augment_enabled,
    loss_weight,
    lr_scale,
    max_steps_value,
    parse_changes,
    probability,
    schedule_keys,
    schedule_value,
)
from engine.core.schedules.epochs import Conversion, convert_epochs
from engine.data.augment import Switchable
from engine.data.stream import DataLoadingError, is_worker_death
from engine.distributed import DataParallelLoss, Distributed, shard_training_data, signal_name, signal_number
from engine.figures import write_figures
from engine.freeze import (
    FREEZE_HINT,
    ModelPaths,
    Phase,
    apply_phase,
    build_freeze,
    parameter_counts_in,
    phase_at,
    resolve_paths,
    steered_value,
    warmup_factors,
)
from engine.optim import LRSchedule, build_optimizer
from engine.runtime import Runtime, rng_states, set_rng_states
from engine.steering import Steering, learning_rate, steered_number
from engine.stopping import StopRun, StopSignals
from engine.system_stats import SystemStats
from engine.tasks.base import Task, taken_figures, task_fingerprints

Change = tuple[Any, Callable[[], None]]
"""A checked steering value: (the value reported in the control event, the function that applies it)."""


class Trainer:
    """Owns the optimizer and the loop; the task supplies batches, the loss and evaluate().

    Under DDP (`dist` with several processes) every rank runs this same loop in lockstep: the model's gradients
    are averaged by DistributedDataParallel, steering commands and stop signals are agreed at each step, and
    rank 0 alone writes events, run.json and checkpoints, and evaluates while the others wait.
    """

    def __init__(
        self,
        paths: RunPaths,
        cfg: dict[str, Any],
        task: Task,
        runtime: Runtime,
        events: EventWriter,
        steering: Steering,
        dist: Distributed | None = None,
        signals: StopSignals | None = None,
    ) -> None:
        self.paths, self.cfg, self.task, self.runtime, self.events, self.steering = (
            paths,
            cfg,
            task,
            runtime,
            events,
            steering,
        )
        self.dist = dist or Distributed()
        self.signals = signals or StopSignals()  # not installed: only the engine process routes signals here
        world = self.dist.world_size
        self.data_sharded = shard_training_data(task, self.dist.rank, world)
        # one optimizer step takes grad_accum_steps batches on every rank
        self.batches_per_step = world * int(cfg["train"].get("grad_accum_steps", 1))
        self.steps_per_epoch = task.steps_per_epoch() / self.batches_per_step
        # epoch keys become step counts once, here, in the config the engine process holds (before anything reads one)
        self.epoch_units: list[Conversion] = convert_epochs(cfg, self.steps_per_epoch)
        self.train_cfg = TrainConfig(**cfg["train"])
        self.max_steps = self.train_cfg.max_steps
        self.optimizer = build_optimizer(cfg["optim"], task.modules())
        lr_section = {k: v for k, v in cfg["schedule"].items() if k not in SECTION_KEYS}
        self.schedule = LRSchedule(self.optimizer, cfg["optim"]["lr"], lr_section, self.max_steps)
        self.scaler = torch.amp.GradScaler("cuda", enabled=runtime.uses_scaler)
        self.stats = SystemStats(runtime.device)
        self.step = 0
        self.best: dict[str, dict[str, float]] = {}  # every set's metrics at the evaluation best.pt holds
        self.best_step: int | None = None
        self.best_main = -math.inf
        self.roles = split_roles(cfg)
        self.keeping = cfg.get("checkpoint") or {}
        self.kept: list[dict[str, Any]] = list(
            (read_json(paths.run_json) or {}).get("checkpoints_kept") or []
        )
        self.resumed = False
        self.failure = ""
        self.train_seconds = 0.0
        self.freeze = build_freeze(cfg["freeze"])
        self.global_batch = self.train_cfg.batch_size * self.train_cfg.grad_accum_steps * world
        # bad paths fail here, before the first step
        self.phases = self.freeze.phases(self.max_steps, self.steps_per_epoch, ModelPaths(task.modules()))
        self.phase: Phase | None = None  # the phase in force, with the freeze overrides steered so far
        self.scheduled_phase: Phase | None = None  # the schedule's phase under it
        self.freeze_overrides: dict[str, bool] = {}  # group path -> trainable, set mid-run, in the order set
        self.ema = self._make_ema(self.train_cfg.ema_decay)
        if self.train_cfg.compile:
            task.model = torch.compile(task.model)  # type: ignore[assignment]
        self.loss_fn = DataParallelLoss(task, self.dist) if self.dist.enabled else None
        self._last_progress = 0.0
        self._control_seconds = 0.0  # spent on steered actions (evaluate, checkpoint, pause) since the start
        self._last_save = time.monotonic()
        augment = getattr(task, "augment", None)
        self.augment_switch = Switchable(augment) if augment is not None else None
        if self.augment_switch is not None:
            task.augment = self.augment_switch  # type: ignore[attr-defined]
        self.no_aug_steps = int((cfg.get("augment") or {}).get("no_aug_steps") or 0)
        self.no_aug_started = False
        self.model_options: dict[
            str, Any
        ] = {}  # model.<group>.<option> -> value, steered so far (resume keeps them)
        # config-scheduled changes, by the step they apply at (config order within a step)
        self.changes: list[tuple[int, ScheduledChange]] = sorted(
            ((change.step(self.steps_per_epoch), change) for change in parse_changes(cfg)),
            key=lambda item: (item[0], item[1].index),
        )
        self.changes_done = 0
        self._register_setters()

    def _make_ema(self, decay: float) -> torch.optim.swa_utils.AveragedModel | None:
        if not decay:
            return None
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        return AveragedModel(self.task.model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)

    def summary(self) -> dict[str, Any]:
        """What run.json and the `model` event record: parameter counts (trainable in the first freeze phase),
        the number of processes and the global batch (images per optimizer step over all of them)."""
        return {
            "params": parameter_counts_in(self.task.modules(), phase_at(self.phases, 0)),
            "world_size": self.dist.world_size,
            "global_batch": self.global_batch,
        }

    # -- the loop -----------------------------------------------------------------------------------------
    def train(self) -> str:
        """Train to max_steps; returns the final status. Evaluates at the start (step 0) and at the end."""
        try:
            if not self.resumed:
                self._record_epoch_units()
            self.task.prepare()  # after a resume this is a no-op: the initialised state came with the checkpoint
            if not self.resumed and (self.train_cfg.eval_at_start or self.max_steps == 0):
                self.evaluate()
            while self.step < self.max_steps:
                self._train_window()
            if self.max_steps > 0:
                self.evaluate()
                self.save("last")
            return "completed"
        except RuntimeError as exc:
            if not is_worker_death(exc):
                raise
            if self.signals.received is None:
                raise DataLoadingError(
                    f"{exc} (a data loading worker died: out of memory? lower data.workers or "
                    f"the batch size; data.workers=0 reads in the engine process)"
                ) from None
            # a SIGTERM sent to the whole job (Slurm, a process group) also ended the data loading workers
            return self._stopped(StopRun("interrupted", f"received {self.signals.received}"))
        except StopRun as stop:
            return self._stopped(stop)
        except CheckpointWriteError as exc:  # the final save: the run cannot end well without it
            self.failure = str(exc)
            return "failed"

    def _record_epoch_units(self) -> None:
        """The epoch keys converted to steps: an `epoch_units` event, run.json's `epoch_units`, output.log lines."""
        if not self.epoch_units:
            return
        converted = {c.step_key: c.event() for c in self.epoch_units}
        message = "; ".join(c.text() for c in self.epoch_units)
        self.events.emit(
            "epoch_units",
            step=self.step,
            steps_per_epoch=round(self.steps_per_epoch, 3),
            converted=converted,
            message=message,
        )
        if self.dist.is_main:
            update_run_info(
                self.paths.run_json,
                epoch_units={"steps_per_epoch": round(self.steps_per_epoch, 3), "converted": converted},
            )
            print(f"[labconsole] {self.paths.run_id}: {message}", flush=True)

    def _train_window(self) -> None:
        """Steps up to the next log point, then one log: .item() is a CPU-GPU sync point, so only here."""
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        images = 0
        start, control_before = time.perf_counter(), self._control_seconds
        try:
            while self.step < self.max_steps:
                self._take_control()
                losses, seen = self._train_step()
                images += seen
                for key, value in losses.items():
                    sums[key] = sums[key] + value if key in sums else value
                    counts[key] = counts.get(key, 0) + 1
                if self.step % self.train_cfg.log_every == 0 or self._due_for_eval() or self._due_to_keep():
                    break
        finally:  # a stop inside the window still counts its steps' time in train_seconds (run.json's step does)
            not_training = self._control_seconds - control_before  # steered evaluations, saves, pauses
            elapsed = max(time.perf_counter() - start - not_training, 0.0)
            self.train_seconds += elapsed
        time_to_save = self._log(
            {key: total / counts[key] for key, total in sums.items()}, images / max(elapsed, 1e-9)
        )
        evaluated = self._due_for_eval()
        if evaluated:
            self.evaluate()
        every = self.train_cfg.checkpoint_every
        if evaluated or time_to_save or (every and self.step % every == 0):
            self.save("last", required=False)
        if self._due_to_keep():
            self.keep_checkpoint()

    def _train_step(self) -> tuple[dict[str, torch.Tensor], int]:
        """One optimizer step: forward, loss and backward over the accumulated batches, clip, step."""
        self.enter_phase()
        self._apply_lr()
        self.optimizer.zero_grad(set_to_none=True)
        losses, images = self._forward_backward()
        if self.train_cfg.nan_policy == "skip" and not self._finite_everywhere(losses["loss/total"]):
            return self._skip_step(losses, images)
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(
            self.task.parameters(), self.train_cfg.grad_clip or math.inf
        )
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update_parameters(self.task.model)
        self.step += 1
        return {**losses, "grad_norm": grad_norm}, images

    def _forward_backward(self) -> tuple[dict[str, torch.Tensor], int]:
        """Gradients of `grad_accum_steps` batches; the mean loss parts and the images seen. CUDA OOM ends the run."""
        accum = self.train_cfg.grad_accum_steps
        losses: dict[str, torch.Tensor] = {}
        images = 0
        try:
            for index in range(accum):
                batch, labels = self.task.next_batch()
                with self._gradient_sync(last=index == accum - 1):
                    with self.runtime.autocast():
                        total, parts = self._loss(batch, labels)
                    self.scaler.scale(total / accum if accum > 1 else total).backward()
                images += int(batch.shape[0])
                for key, value in {"loss/total": total, **parts}.items():
                    value = value.detach() / accum if accum > 1 else value.detach()
                    losses[key] = losses[key] + value if key in losses else value
        except torch.cuda.OutOfMemoryError:
            self._out_of_memory()
        return losses, images

    def _loss(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The task's loss; through DDP when several processes train (its forward is where gradients get hooked)."""
        if self.loss_fn is None:
            return self.task.compute_loss(images, labels)
        return self.loss_fn(images, labels)

    def _gradient_sync(self, last: bool) -> Any:
        """Under DDP, all-reduce gradients only on the last accumulation batch; a no-op otherwise."""
        return self.loss_fn.gradient_sync(last) if self.loss_fn is not None else contextlib.nullcontext()

    def _finite_everywhere(self, loss: torch.Tensor) -> bool:
        """A sync point; under DDP all ranks skip together, or a rank would step on another's NaN gradients."""
        return self.dist.all_true(torch.isfinite(loss))

    def _skip_step(self, losses: dict[str, torch.Tensor], images: int) -> tuple[dict[str, torch.Tensor], int]:
        """nan_policy skip: drop this step's gradients, warn, and keep the logged means finite."""
        self.optimizer.zero_grad(set_to_none=True)
        self.events.emit(
            "alert",
            step=self.step,
            level="warning",
            code="nan",
            message=f"loss is {float(losses['loss/total'])} at step {self.step}: step skipped",
        )
        self.step += 1
        return {}, images

    def _out_of_memory(self) -> None:
        batch = self.train_cfg.batch_size
        smaller = "train.places_per_batch" if self.cfg["task"]["name"] == "vpr" else "train.batch_size"
        message = (
            f"CUDA out of memory at batch size {batch}: lower {smaller}, use device.amp=bf16, or raise "
            f"train.grad_accum_steps to keep the effective batch"
        )
        self.events.emit("alert", step=self.step, level="error", code="oom", message=message)
        raise StopRun("failed", message)

    def enter_phase(self, steered: bool = False) -> None:
        """Apply the freeze phase of this step (at start, at phase boundaries, after a resume or a steered change)."""
        phase = phase_at(self.phases, self.step)
        if phase is not self.scheduled_phase or steered:
            self.scheduled_phase = phase
            active = phase.steered(self.freeze_overrides)
            groups = apply_phase(self.task.modules(), active)
            self.events.emit("freeze", step=self.step, **active.event(groups))
            self.phase = self.task.freeze_phase = active
            if self.loss_fn is not None:
                self.loss_fn.refresh()  # DDP reduces a fixed set of parameters: rebuild it for the new one

    def _apply_lr(self) -> None:
        """Schedule LR, with a warmup for groups that a freeze phase just unfroze."""
        self.schedule.apply(self.step)
        if self.phase is not None:
            factors = warmup_factors(self.phase, self.step)
            for group in self.optimizer.param_groups:
                group["lr"] *= factors.get(group["name"], 1.0)

    def _due_for_eval(self) -> bool:
        every = self.train_cfg.eval_every
        return bool(every) and self.step % every == 0 and self.step < self.max_steps

    def _stopped(self, stop: StopRun) -> str:
        self.task.close()  # first: workers dying with a job-wide SIGTERM must not interrupt the checkpoint
        self.failure = stop.message
        self._final_progress()
        if stop.status != "failed":  # a diverged model is not worth a checkpoint over the last good one
            try:
                self.save("last")
            except CheckpointWriteError as exc:
                self.failure = f"{stop.message}; {exc}" if stop.message else str(exc)
                return "failed"
        return stop.status

    # -- logging ------------------------------------------------------------------------------------------------
    def _log(self, means: dict[str, torch.Tensor], images_per_s: float) -> bool:
        """Window means; NaN/Inf is checked here, once per log, to avoid a sync point every step.

        Under DDP the logged values are averaged over the ranks (img/s summed: the job's throughput), so every
        rank sees the same NaN and stops at the same step. Returns whether last.pt is due by the clock (rank 0's
        clock under DDP, so that every rank saves at the same step); ends the run when events cannot be written.
        """
        values = {key: float(value) for key, value in means.items()}
        system = {"img_per_s": images_per_s, **self.stats.sample()}
        main_says = (self._time_to_save(), self._event_write_failure())
        if self.dist.enabled:
            values, system, main_says = self._reduce_logs(values, system, main_says)
        time_to_save, write_failure = main_says
        if write_failure:  # a run whose events cannot be written (full disk) is flying blind: end it
            raise StopRun("failed", write_failure)
        if not math.isfinite(values.get("loss/total", 0.0)):
            self.events.emit(
                "alert",
                step=self.step,
                level="error",
                code="nan",
                message=f"loss is {values['loss/total']} at step {self.step}",
            )
            raise StopRun("failed", f"loss became {values['loss/total']} at step {self.step}")
        values.update(self.schedule.current())
        self.events.scalar(self.step, {key: rounded_scalar(value) for key, value in values.items()})
        self.events.system(self.step, system)
        self._progress()
        return time_to_save

    def _event_write_failure(self) -> str:
        failed = self.events.write_error
        return f"cannot write {self.paths.events}: {failed.strerror or failed}" if failed is not None else ""

    def _time_to_save(self) -> bool:
        minutes = self.train_cfg.checkpoint_minutes
        return bool(minutes) and time.monotonic() - self._last_save >= minutes * 60

    def _reduce_logs(
        self, values: dict[str, float], system: dict[str, float], main_says: tuple[bool, str]
    ) -> tuple[dict[str, float], dict[str, float], tuple[bool, str]]:
        """Mean scalars over the ranks, summed img/s, rank 0's memory plus each other GPU's as `gpu<N>/...`,
        and rank 0's word on saving by the clock and on its event writes (every rank acts on it alike)."""
        gathered = self.dist.all_gather((values, system, main_says))
        means = {key: sum(v.get(key, math.nan) for v, _, _ in gathered) / len(gathered) for key in values}
        merged = {**system, "img_per_s": sum(s["img_per_s"] for _, s, _ in gathered)}
        for rank, (_, other, _) in enumerate(gathered[1:], start=1):
            merged.update(
                {f"gpu{rank}/{key}": value for key, value in other.items() if key.startswith("gpu_")}
            )
        for key in (
            "data_wait_pct",
            "data_wait_ms",
        ):  # the slowest rank holds every rank back at the all-reduce
            waits = [s[key] for _, s, _ in gathered if key in s]
            if waits:
                merged[key] = max(waits)
        return means, merged, gathered[0][2]

    def _progress(self, force: bool = False) -> None:
        """run.json progress at most every 2 s: readers poll it, and an atomic rewrite is not free."""
        now = time.monotonic()
        if self.dist.is_main and (force or now - self._last_progress > 2.0):
            self._last_progress = now
            update_run_info(
                self.paths.run_json,
                progress={"step": self.step, "max_steps": self.max_steps, "epoch": self.epoch()},
                train_seconds=round(self.train_seconds, 2),
            )

    def _final_progress(self) -> None:
        """run.json progress at the step the run stopped at: the runs table reads it, the monitor reads events,
        and both must show the same last step (the 2 s throttle may have left run.json behind)."""
        with contextlib.suppress(OSError):  # a full disk: the engine process records the end and says why
            self._progress(force=True)

    def epoch(self) -> float:
        """Passes over the training set so far (a step takes grad_accum_steps batches on each of world_size ranks)."""
        return self.task.epoch(self.step * self.batches_per_step)

    # -- control: stop signals, loop actions, and what `labconsole set` may change --------------------------------
    def _take_control(self) -> None:
        """Apply what was asked since the last step. The time its actions take (evaluating, saving, paused) goes
        to _control_seconds, not to training: img/s and train_seconds leave it out."""
        self._apply_scheduled()
        actions = self._poll_control()
        start = time.perf_counter()
        try:
            for action in actions:
                self._do(action)
        finally:
            self._control_seconds += time.perf_counter() - start

    def _apply_scheduled(self) -> None:
        """The config's changes due at this step, and the start of the no-augmentation tail, applied through the
        steering like a `set` (same checks, same `control` event, marked scheduled). Every rank applies them at the
        same step: they come from the config, not from control.jsonl."""
        while self.changes_done < len(self.changes) and self.changes[self.changes_done][0] <= self.step:
            change = self.changes[self.changes_done][1]
            self.changes_done += 1
            self.steering.apply_scheduled(change.where, change.values, self.step)
        tail_due = self.no_aug_steps and self.step >= self.max_steps - self.no_aug_steps
        if tail_due and not self.no_aug_started and self.augment_switch is not None:
            self.no_aug_started = True
            self.steering.apply_scheduled("augment.no_aug_steps", {AUGMENT_ENABLED: "off"}, self.step)

    def _poll_control(self) -> list[str]:
        """Stop on a termination signal, else apply new steering commands; the loop actions to do now.

        Under DDP this is a collective: rank 0 reads control.jsonl, every rank applies the same commands at this
        step, and a signal that reached any rank stops them all here.
        """
        commands = self.steering.read() if self.dist.is_main else []
        received = self.signals.received
        signum, commands = self.dist.sync_control(signal_number(received), commands)
        if signum:
            raise StopRun("interrupted", f"received {received or signal_name(signum)}")
        return self.steering.handle(commands, self.step)

    def _do(self, action: str) -> None:
        if action == "stop":
            raise StopRun("stopped", "stopped by the user")
        if action == "eval":
            self.evaluate()
            self.save("last", required=False)
        elif action == "checkpoint":
            self.save("last", required=False)
        elif action == "pause":
            self._pause()

    def _pause(self) -> None:
        """Wait for resume (or stop) while keeping the control channel answered."""
        self.events.emit("status", step=self.step, status="paused")
        while True:
            for action in self._poll_control():
                if action == "resume":
                    self.events.emit("status", step=self.step, status="running")
                    return
                self._do(action)
            time.sleep(0.2)

    def _register_setters(self) -> None:
        """Every key `labconsole set` may change mid-run: LR, LR scale, max steps, loss weights, schedule keys,
        freezing. Each setter checks a value and returns a Change, so a command with one bad key changes nothing
        (the steering commits only when all pass)."""
        steering = self.steering
        steering.add_setter(
            "optim.lr", lambda v: self._lr_change("optim.lr", steered_number("optim.lr", v, 1.0))
        )
        steering.add_setter(
            "optim.lr_scale", lambda v: self._lr_change("optim.lr_scale", lr_scale(v, self.schedule.base_lr))
        )
        steering.add_setter("train.max_steps", self._max_steps_change)
        loss = self.task.modules().get("loss")
        for component in getattr(loss, "weights", {}) or {}:
            steering.add_setter(
                f"loss.weight.{component}", lambda v, c=component: self._loss_weight_change(loss, c, v)
            )  # type: ignore[misc]
        for key in schedule_keys(self.schedule.schedule):
            steering.add_setter(f"schedule.{key}", lambda v, k=key: self._schedule_change(k, v))
        if self.augment_switch is not None:
            steering.add_setter(AUGMENT_ENABLED, self._augment_change)
            for name in self._augment_probabilities():
                steering.add_setter(f"augment.{name}", lambda v, n=name: self._probability_change(n, v))  # type: ignore[misc]
        steering.add_prefix_setter("freeze.", self.freeze_change, FREEZE_HINT)
        for group, module in self.task.modules().items():
            offered = getattr(module, "steerable_keys", None)
            if callable(offered):  # a model part with options of its own (the pce backbone's router, experts)
                steering.add_prefix_setter(
                    f"model.{group}.",
                    lambda name, v, g=group, m=module: self._model_option_change(g, m, name, v),  # type: ignore[misc]
                    f"model.{group}.<{'|'.join(offered())}>",
                )

    def _augment_change(self, value: Any) -> Change:
        enabled = augment_enabled(value)
        switch = self.augment_switch

        def commit() -> None:
            switch.enabled = enabled  # type: ignore[union-attr]

        return "on" if enabled else "off", commit

    def _augment_probabilities(self) -> dict[str, float]:
        """The augmentation's steerable probabilities (`mosaic_prob`: …); none for one that offers no
        `probabilities()`."""
        inner = self.augment_switch.inner if self.augment_switch is not None else None
        offered = getattr(inner, "probabilities", None)
        return dict(offered()) if offered is not None else {}

    def _probability_change(self, name: str, value: Any) -> Change:
        chance = probability(f"augment.{name}", value)
        inner = self.augment_switch.inner  # type: ignore[union-attr]
        return chance, lambda: inner.set_probability(name, chance)

    def _model_option_change(self, group: str, module: Any, name: str, value: Any) -> Change:
        """`model.<group>.<name>`: an option the module checks itself (`set_option` raises on a bad one)."""
        key = f"model.{group}.{name}"
        try:
            shown, commit = module.set_option(name, value)
        except (KeyError, ValueError) as exc:
            raise ConfigError(key, str(exc.args[0]) if exc.args else type(exc).__name__) from None

        def apply() -> None:
            commit()
            self.model_options[key] = value

        return shown, apply

    def _lr_change(self, key: str, lr: float) -> Change:
        lr = learning_rate(key, lr)

        def commit() -> None:
            self.schedule.base_lr = lr
            self.schedule.apply(self.step)

        return lr, commit

    def _max_steps_change(self, value: Any) -> Change:
        steps = max_steps_value(value, self.schedule.schedule, self.step)

        def commit() -> None:
            self.max_steps = self.schedule.max_steps = steps
            self.phases = self.freeze.phases(
                self.max_steps, self.steps_per_epoch, ModelPaths(self.task.modules())
            )

        return steps, commit

    @staticmethod
    def _loss_weight_change(loss: Any, component: str, value: Any) -> Change:
        weight = loss_weight(f"loss.weight.{component}", value)
        return weight, lambda: loss.set_weight(component, weight)

    def _schedule_change(self, key: str, value: Any) -> Change:
        number = schedule_value(
            self.schedule.schedule, key, value, self.max_steps
        )  # as the config is checked

        def commit() -> None:
            self.schedule.schedule[key] = number
            self.schedule.apply(self.step)

        return number, commit

    def freeze_change(self, path: str, value: Any) -> Change:
        """Freeze (on), unfreeze (off) or hand back to the schedule a module group or backbone stage, from now on.

        The override outlives later schedule phases until set back to `schedule`; the optimizer already holds every
        parameter, so an unfrozen one simply starts getting updates (fresh optimizer state).
        """
        key = f"freeze.{path}"
        trainable = steered_value(key, value)
        paths = list(resolve_paths(self.task.modules(), [path], key))
        if (
            trainable
            and getattr(self.task, "cache", None) is not None
            and any(p.startswith("backbone") for p in paths)
        ):
            raise ConfigError(
                key,
                "this run trains on cached backbone features (train.feature_cache), so the "
                "backbone cannot train; relaunch with train.feature_cache=off to unfreeze it",
            )
        if "head" in paths:
            paths.append("loss")  # a margin loss's class weights are the head's classifier

        def commit() -> None:
            for name in paths:
                for old in [p for p in self.freeze_overrides if p == name or p.startswith(f"{name}.")]:
                    del self.freeze_overrides[old]
                if trainable is not None:
                    self.freeze_overrides[name] = trainable
            if self.phase is not None:
                self.enter_phase(steered=True)

        return "schedule" if trainable is None else "trainable" if trainable else "frozen", commit

    # -- evaluation and checkpoints -------------------------------------------------------------------------------
    def evaluate(self) -> dict[str, dict[str, float]]:
        """Evaluate every test set, emit one eval event each, track best-so-far and best.pt on the main metric.

        Under DDP rank 0 evaluates alone while the other ranks wait (they return no results).
        """
        if not self.dist.is_main:
            self.dist.wait_for_main()
            return {}
        try:
            return self._evaluate_and_record()
        finally:
            self.dist.wait_for_main()

    def _evaluate_and_record(self) -> dict[str, dict[str, float]]:
        """One eval event per set (its role and fingerprint with it); best.pt and run.json's `best` follow the
        first validation set's main metric (the first test set's when the config declares none), and `best`
        holds every set's metrics at that evaluation: test numbers are reported, never chosen on."""
        self.events.emit("phase", step=self.step, phase="evaluating")
        results = {split: rounded_metrics(metrics) for split, metrics in self._evaluate_weights().items()}
        fingerprints = task_fingerprints(self.task)
        for split, metrics in results.items():
            extra = {"fingerprint": fingerprints[split]} if split in fingerprints else {}
            role = self.roles.get(split, TEST)
            self.events.emit("eval", step=self.step, split=split, role=role, metrics=metrics, **extra)
        write_figures(self.paths.root, self.events, self.step, taken_figures(self.task))
        main = self.task.main_score(results)
        improved = main is not None and main > self.best_main and self.step > 0
        if improved or not self.best:  # the untrained weights stand until a trained step beats them
            self.best, self.best_step = results, self.step
        update_run_info(
            self.paths.run_json,
            best=self.best,
            best_step=self.best_step,
            final=results,
            roles={split: self.roles.get(split, TEST) for split in results},
            fingerprints=fingerprints,
        )
        if improved:
            self.best_main = main  # type: ignore[assignment]
            self.save("best", required=False)
        self.events.emit("phase", step=self.step, phase="training")
        self._progress(force=True)
        return results

    def _evaluate_weights(self) -> dict[str, dict[str, float]]:
        """Evaluate the EMA weights when EMA is on (what would be deployed), else the live model."""
        if self.ema is None or self.step == 0:
            return self.task.evaluate()
        live, self.task.model = self.task.model, self.ema.module
        try:
            return self.task.evaluate()
        finally:
            self.task.model = live

    def _keep_interval(self) -> int:
        """checkpoint.keep_every in steps (0: keep none); epochs convert at this run's steps per epoch."""
        every = int(self.keeping.get("keep_every") or 0)
        if every and self.keeping.get("keep_unit") == "epochs":
            return max(1, round(every * self.steps_per_epoch))
        return every

    def _due_to_keep(self) -> bool:
        interval = self._keep_interval()
        return bool(interval) and self.step > 0 and self.step % interval == 0

    def keep_checkpoint(self) -> None:
        """checkpoints/step_<N>.pt besides last and best, listed in run.json `checkpoints_kept`; past
        checkpoint.max_kept the oldest numbered one is deleted."""
        name = f"step_{self.step:06d}"
        self.save(name, required=False)
        path = self.paths.checkpoints / f"{name}.pt"
        if not self.dist.is_main or not path.is_file():
            return
        self.kept = [k for k in self.kept if k.get("step") != self.step]
        relative = str(path.relative_to(self.paths.root))
        self.kept.append({"step": self.step, "path": relative, "bytes": path.stat().st_size})
        budget = int(self.keeping.get("max_kept") or 0)
        while budget and len(self.kept) > budget:
            dropped = self.kept.pop(0)
            with contextlib.suppress(OSError):
                (self.paths.root / dropped["path"]).unlink()
        update_run_info(self.paths.run_json, checkpoints_kept=self.kept)

    def save(self, which: str, required: bool = True) -> None:
        """Write checkpoints/{last,best}.pt with everything needed to resume exactly.

        Under DDP every rank calls save("last") at the same step (it checks that their weights agree) and rank 0
        writes it; "best" comes from rank 0's evaluation and is rank 0's alone. A save that fails (full disk)
        leaves the previous file in place and raises CheckpointWriteError when `required` (the run's last word),
        else it is an alert and training goes on.
        """
        in_sync = self.dist.parameters_in_sync(self.task.modules()) if which == "last" else True
        if which == "last":
            self._last_save = time.monotonic()
        if not self.dist.is_main:
            return
        if not in_sync:
            self.events.emit(
                "alert",
                step=self.step,
                level="error",
                code="ddp_desync",
                message=f"DDP ranks hold different weights at step {self.step}",
            )
        path = self.paths.checkpoints / f"{which}.pt"
        try:
            save_checkpoint(path, self._state())
        except CheckpointWriteError as exc:
            self.events.emit(
                "alert", step=self.step, level="error", code="checkpoint_failed", message=str(exc)
            )
            if required:
                raise
            return
        extra: dict[str, Any] = {"ranks_in_sync": in_sync} if self.dist.enabled and which == "last" else {}
        if which not in ("last", "best"):
            extra["kept"] = True
        self.events.emit("checkpoint", step=self.step, path=str(path), best=which == "best", **extra)

    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "model": self.task.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "train_seconds": self.train_seconds,
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_states(),
            "best": self.best,
            "best_step": self.best_step,
            "best_main": self.best_main,
            "freeze_overrides": list(self.freeze_overrides.items()),
            "scheduled_changes_done": self.changes_done,
            "augment_enabled": self.augment_switch.enabled if self.augment_switch is not None else None,
            "augment_probabilities": self._augment_probabilities(),
            "model_options": dict(self.model_options),
            "no_aug_started": self.no_aug_started,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue exactly where a checkpoint left off: weights, optimizer, LR (with steered values), RNGs, data order."""
        self.task.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.max_steps = max(self.max_steps, self.schedule.max_steps)
        self.schedule.max_steps = self.max_steps
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.best = state["step"], state["best"]
        self.train_seconds = state.get("train_seconds", 0.0)
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.best_main = state.get("best_main", -math.inf)
        self.best_step = state.get("best_step")
        self.freeze_overrides = dict(state.get("freeze_overrides", []))
        # a checkpoint from before scheduled changes were saved: those due before its step were applied
        self.changes_done = state.get(
            "scheduled_changes_done", sum(1 for step, _ in self.changes if step < self.step)
        )
        if self.augment_switch is not None and state.get("augment_enabled") is not None:
            self.augment_switch.enabled = bool(state["augment_enabled"])
        for name, chance in (state.get("augment_probabilities") or {}).items():
            if name in self._augment_probabilities():  # steered values outlive a resume
                self.augment_switch.inner.set_probability(name, chance)  # type: ignore[union-attr]
        self.no_aug_started = bool(state.get("no_aug_started", False))
        groups = self.task.modules()
        for key, value in (state.get("model_options") or {}).items():
            _, group, name = key.split(".", 2)
            groups[group].set_option(name, value)[1]()
            self.model_options[key] = value
        set_rng_states(state["rng"])
        self.resumed = True
        self.events.emit("resume", step=self.step, message=f"resumed from step {self.step}")
