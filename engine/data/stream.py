"""Batches read by DataLoader workers: an endless resumable training stream, and ordered passes for evaluation.

The training stream's sampler is the consumer's position. Workers read ahead from a copy of it, while the
sampler itself moves only when a batch is handed to the training loop, so `state_dict` resumes exactly at
the next unseen batch whatever the number of workers and however far they had read.
"""

from __future__ import annotations

import copy
import multiprocessing
import signal
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from engine.core.errors import UserError
from engine.data.samples import Batch, SampleError, keys_in_order
from engine.data.wait_clock import TRAINING_WAITS, WaitClock


class DataLoadingError(RuntimeError):
    """A DataLoader worker died (killed, out of memory, a crash in a decoder) while reading a batch."""


def _ignore_stop_signals(_worker_id: int) -> None:
    """Workers leave Ctrl-C (SIGINT) and Slurm's time-limit warning (SIGUSR2) to the engine, which checkpoints and
    then shuts them down. SIGTERM keeps its default: Python's exit terminates daemonic workers with it, and the
    trainer takes a worker killed by a SIGTERM sent to the whole job as the stop it is."""
    for signum in (signal.SIGINT, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_IGN)


def _as_is(batch: Any) -> Any:
    """The dataset already returns whole batches."""
    return batch


def make_loader(dataset: Any, batch_keys: Any, workers: int, pin_memory: bool) -> DataLoader:
    """A DataLoader over batches of keys (the dataset reads a whole batch per call)."""
    options: dict[str, Any] = {}
    if workers > 0:
        options = {"worker_init_fn": _ignore_stop_signals, "prefetch_factor": 2, "persistent_workers": True}
        if "fork" in multiprocessing.get_all_start_methods():
            # workers share the index arrays as they are (no pickling, no copy) and start in milliseconds;
            # explicit because a process started by spawn (torch.multiprocessing) would otherwise spawn them too
            options["multiprocessing_context"] = "fork"
    return DataLoader(
        dataset,
        batch_sampler=batch_keys,
        num_workers=workers,
        collate_fn=_as_is,
        pin_memory=pin_memory,
        **options,
    )


def checked(batch: Batch | SampleError) -> Batch:
    """The batch, or the reading error it carries raised as a UserError (one line naming the file)."""
    if isinstance(batch, SampleError):
        raise UserError(batch.message)
    return batch


def _worker_died(exc: RuntimeError, files: list[str]) -> DataLoadingError:
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataLoadingError(
        f"a data loading worker died while reading {shown} ({first}); run with data.workers=0 "
        f"to read in the engine process and see the error"
    )


def is_worker_death(exc: BaseException) -> bool:
    """Whether `exc` is torch's report of a dead worker (raised by its SIGCHLD handler anywhere in the engine)."""
    return isinstance(exc, DataLoadingError) or (
        isinstance(exc, RuntimeError) and "DataLoader worker" in str(exc)
    )


def ordered_batches(
    dataset: Any, batch_size: int, workers: int, pin_memory: bool = False, count: int | None = None
) -> Iterator[Batch]:
    """Items 0..count-1 (all by default) in order, in batches of `batch_size`, read by `workers` processes."""
    count = len(dataset) if count is None else count
    keys = [keys_in_order(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
    if not keys:
        return
    loader = make_loader(dataset, keys, min(workers, len(keys)), pin_memory)
    iterator = iter(loader)
    for batch_keys in keys:
        try:
            batch = next(iterator)
        except RuntimeError as exc:
            if not is_worker_death(exc):
                raise
            raise _worker_died(exc, [dataset.describe(int(i)) for i in batch_keys[:, 0]]) from None
        yield checked(batch)


class BatchStream:
    """Endless training batches from a resumable batch sampler (PlaceBatchSampler, ShuffleBatchSampler).

    Every pull is timed on `waits`: the system readings say how much of training went into waiting for data.
    """

    def __init__(
        self,
        dataset: Any,
        sampler: Any,
        workers: int,
        pin_memory: bool = False,
        waits: WaitClock = TRAINING_WAITS,
    ) -> None:
        self.dataset, self.sampler, self.workers, self.pin_memory = dataset, sampler, workers, pin_memory
        self.waits = waits
        self._iterator: Iterator[Any] | None = None
        self._loader: DataLoader | None = None

    def _keys(self) -> Iterator[np.ndarray]:
        """(B, 2) keys of every batch from the sampler's current position on, each item with its own seed."""
        reader = copy.copy(self.sampler)  # shares the index arrays, owns its position
        while True:
            epoch, index = reader.next_position()
            indices = np.asarray(reader.batch_at(epoch, index), dtype=np.int64)
            seeds = np.random.default_rng([reader.seed, epoch, index, 2]).integers(0, 2**31, len(indices))
            yield np.stack([indices, seeds], 1)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Batch:
        with self.waits.waiting():
            batch = self._pull()
        self.sampler.next_position()
        return checked(batch)

    def _pull(self) -> Batch | SampleError:
        """The next batch from the workers (starting them first when needed)."""
        if self._iterator is None:
            self._loader = make_loader(self.dataset, _Endless(self._keys), self.workers, self.pin_memory)
            self._iterator = iter(self._loader)
        try:
            batch = next(self._iterator)
        except RuntimeError as exc:
            if not is_worker_death(exc):
                raise
            position = copy.copy(self.sampler)
            indices = position.batch_at(*position.next_position())
            raise _worker_died(exc, [self.dataset.describe(int(i)) for i in indices]) from None
        return batch

    def restart(self) -> None:
        """Read from the sampler's position again (after its state was loaded)."""
        self.close()

    def close(self) -> None:
        """Stop the workers."""
        iterator, self._iterator, self._loader = self._iterator, None, None
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is None:
            return
        try:
            shutdown()  # stops watching the workers' pids even when it is interrupted
        except (
            RuntimeError
        ) as exc:  # a worker that already died (a SIGTERM to the whole job) is what closing wants
            if not is_worker_death(exc):
                raise

    def state_dict(self) -> dict[str, Any]:
        """The consumer's position (the sampler's state)."""
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state)
        self.restart()


class _Endless:
    """An iterable of batch keys that DataLoader can take as its batch_sampler (it calls iter() once)."""

    def __init__(self, make: Any) -> None:
        self._make = make

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._make()


def pin_for(device: torch.device) -> bool:
    """Pinned host memory speeds up copies to a CUDA device; pointless elsewhere."""
    return device.type == "cuda"
