"""How a run ends before max_steps: a stop raised inside the loop, and termination signals the loop takes at a step.

Torch-free: the worker installs the signal handlers first thing, before torch is imported.
"""

from __future__ import annotations

import signal
from typing import Any


class StopRun(Exception):
    """Raised inside the loop to end the run with a given status (stopped, interrupted, failed)."""

    def __init__(self, status: str, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Interrupted(Exception):
    """A termination signal arrived before the training loop could take it gracefully."""


class StopSignals:
    """SIGTERM, SIGINT and SIGUSR2 as a stop request that the training loop takes at its next step.

    SIGUSR2 is the warning Slurm sends before the time limit (submitit asks for it): the loop checkpoints and the
    run ends `interrupted`, so `labconsole resume` continues it. Catching it also replaces submitit's own handler,
    which would raise mid-step. Until the worker hands over to the loop there is nothing to checkpoint, so a
    signal then stops the process at once (`Interrupted`).
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)

    def __init__(self) -> None:
        self.received: str | None = None
        """The name of the signal that asked to stop ("SIGTERM"), None while none arrived."""
        self._loop_takes_over = False

    def install(self) -> StopSignals:
        """Route the termination signals here (main thread only, as Python requires); returns self."""
        for signum in self.SIGNALS:
            signal.signal(signum, self._handle)
        return self

    def hand_to_loop(self) -> None:
        """From now on a signal is recorded for the loop (checkpoint, then `interrupted`) instead of raising."""
        self._loop_takes_over = True

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if not self._loop_takes_over:
            raise Interrupted(f"received {name} before training started")
        self.received = name
