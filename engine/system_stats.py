"""Readings for `system` events, sampled once per log window.

Host and process (psutil): the machine's CPU and memory, and the engine with its DataLoader workers. The GPU
the process trains on: torch's allocator, and the whole device through NVML (memory, utilisation, temperature,
power) where a driver is present. The data-loader wait measured by the training stream (engine/data/wait_clock).
Under DDP each rank samples its own device; the trainer merges the ranks' readings.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import psutil
import torch

from engine.data.wait_clock import TRAINING_WAITS, WaitClock

_MB = 1024 * 1024
WORKER_RESCAN_SECONDS = 30.0
"""How often the engine's children are looked for again: finding them reads every process of the machine (tens
of ms on a busy node), while DataLoader workers are persistent and reading the known ones is cheap."""


class SystemStats:
    """Samples once per log interval; NVML is optional and silently absent on CPU machines."""

    def __init__(self, device: torch.device, waits: WaitClock = TRAINING_WAITS) -> None:
        self.device = device
        self.waits = waits
        self.process = psutil.Process()
        self.process.cpu_percent(None)  # the first call only primes the counter
        psutil.cpu_percent(None)  # likewise for the whole machine
        self._workers: dict[int, psutil.Process] = {}  # kept: a child's CPU % needs its previous reading
        self._workers_scanned = -float("inf")
        self.gpu = NvmlDevice.open(device)

    def sample(self) -> dict[str, float]:
        """Current readings (MB, percent, °C, W); the data-loader wait since the previous sample."""
        engine_rss = self.process.memory_info().rss
        engine_cpu = self.process.cpu_percent(None)
        workers_rss, workers_cpu = self._workers_usage()
        host = psutil.virtual_memory()
        values = {
            "rss_mb": engine_rss / _MB,
            "cpu_percent": engine_cpu,
            "proc_rss_mb": (engine_rss + workers_rss) / _MB,
            "proc_cpu_pct": engine_cpu + workers_cpu,
            "host_cpu_pct": psutil.cpu_percent(None),
            "host_mem_used_mb": (host.total - host.available) / _MB,
            "host_mem_total_mb": host.total / _MB,
            **self.waits.read_and_reset(),
        }
        if self.device.type == "cuda":
            index = self.device.index or 0
            values["gpu_mem_alloc_mb"] = torch.cuda.memory_allocated(index) / _MB
            values["gpu_mem_reserved_mb"] = torch.cuda.memory_reserved(index) / _MB
            values["gpu_mem_peak_mb"] = torch.cuda.max_memory_allocated(index) / _MB
        if self.gpu is not None:
            values.update(self.gpu.sample())
        return {key: round(value, 2) for key, value in values.items()}  # no float noise in events

    def _workers_usage(self) -> tuple[int, float]:
        """RSS (bytes) and CPU % of the engine's child processes (DataLoader workers) alive now.

        Forked workers share the engine's pages until they write them, so their RSS sum counts shared pages
        more than once: an upper bound, the figure `top` would add up too.
        """
        children = list(self._workers.values())
        if time.monotonic() - self._workers_scanned >= WORKER_RESCAN_SECONDS:
            self._workers_scanned = time.monotonic()
            with contextlib.suppress(psutil.Error):  # the known ones still count
                children = self.process.children(recursive=True)
        alive: dict[int, psutil.Process] = {}
        rss, cpu = 0, 0.0
        for child in children:
            known = self._workers.get(child.pid, child)
            try:
                rss += known.memory_info().rss
                cpu += known.cpu_percent(None)  # 0.0 on a worker's first reading
            except psutil.Error:  # it exited in between
                continue
            alive[child.pid] = known
        self._workers = alive
        return rss, cpu


class NvmlDevice:
    """The whole-device readings of one GPU through NVML (nvidia-ml-py)."""

    def __init__(self, nvml: Any, handle: Any) -> None:
        self.nvml, self.handle = nvml, handle

    @classmethod
    def open(cls, device: torch.device) -> NvmlDevice | None:
        """The NVML view of `device`; None on CPU, without the library or without a driver."""
        if device.type != "cuda":
            return None
        try:
            import pynvml

            pynvml.nvmlInit()
            return cls(pynvml, _handle(pynvml, device.index or 0))
        except Exception:  # NVML missing or driver too old: torch's own counters still work
            return None

    def sample(self) -> dict[str, float]:
        """Memory used/total (MB), utilisation (%), temperature (°C), power and its limit (W); a reading the
        device does not support is left out."""
        nvml, handle = self.nvml, self.handle
        values: dict[str, float] = {}
        memory = _maybe(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
        if memory is not None:
            values["gpu_mem_device_used_mb"] = memory.used / _MB
            values["gpu_mem_device_total_mb"] = memory.total / _MB
        readings: dict[str, Callable[[], float]] = {
            "gpu_util_pct": lambda: nvml.nvmlDeviceGetUtilizationRates(handle).gpu,
            "gpu_temp_c": lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
            "gpu_power_w": lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,  # milliwatts
            "gpu_power_limit_w": lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0,
        }
        for key, read in readings.items():
            value = _maybe(read)
            if value is not None:
                values[key] = float(value)
        return values


def _handle(nvml: Any, index: int) -> Any:
    """NVML numbers every GPU of the machine, torch only the visible ones (CUDA_VISIBLE_DEVICES): match by UUID."""
    try:
        uuid = torch.cuda.get_device_properties(index).uuid
        return nvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
    except Exception:  # an older torch without uuid, or a fake device in tests
        return nvml.nvmlDeviceGetHandleByIndex(index)


def _maybe(read: Callable[[], Any]) -> Any:
    """The reading, or None when the device or driver does not support it."""
    try:
        return read()
    except Exception:
        return None
