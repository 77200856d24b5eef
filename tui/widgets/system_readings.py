"""The system panel's readings from a run snapshot: per-GPU values by the engine's key scheme, gauge histories."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from tui.data.run_snapshot import Snapshot

_GPU_KEY = re.compile(
    r"^(?:gpu(?P<pre>\d+)[/_])?gpu_(?P<kind>mem_(?:alloc|reserved|peak|device_used|device_total)_mb"
    r"|util_pct|temp_c|power_w|power_limit_w)(?:/(?P<post>\d+))?$"
)
"""rank 0's `gpu_mem_alloc_mb`, another rank's `gpu1/gpu_util_pct` (the trainer's DDP merge), or `…/1`."""


@dataclass(frozen=True)
class GpuReadings:
    """The latest readings of one device: mem_alloc_mb, mem_device_used_mb, util_pct, temp_c, power_w, …"""

    device: str
    values: dict[str, float]
    keys: dict[str, str]
    """The system key of each reading (for its history)."""

    @property
    def has_nvml(self) -> bool:
        """Whether NVML reported on the whole device (not only torch's allocator)."""
        return any(k in self.values for k in ("mem_device_total_mb", "util_pct", "temp_c", "power_w"))


def gpu_readings(snapshot: Snapshot) -> list[GpuReadings]:
    """Latest readings per device, in device order."""
    devices: dict[str, dict[str, float]] = {}
    keys: dict[str, dict[str, str]] = {}
    for key in snapshot.system:
        m = _GPU_KEY.match(key)
        if m is None:
            continue
        value = snapshot.system_last(key)
        if value is not None and math.isfinite(value):
            device = m["pre"] or m["post"] or "0"
            devices.setdefault(device, {})[m["kind"]] = value
            keys.setdefault(device, {})[m["kind"]] = key
    return [GpuReadings(d, devices[d], keys[d]) for d in sorted(devices, key=int)]


def history(snapshot: Snapshot, *keys: str) -> np.ndarray:
    """The readings of the first of `keys` the run has (older runs logged fewer gauges)."""
    for key in keys:
        series = snapshot.system.get(key)
        if series is not None and len(series[1]):
            return series[1]
    return np.zeros(0)


def latest(values: np.ndarray) -> float | None:
    """The last finite reading."""
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if len(finite) else None


def fmt_mb(mb: float | None) -> str:
    """Memory in MB as '812 MB' or '11.4 GB'."""
    if mb is None or math.isnan(mb):
        return "–"
    return f"{mb:,.0f} MB" if mb < 1024 else f"{mb / 1024:.1f} GB"


def fmt_used_of(used: float | None, total: float | None) -> str:
    """'17.6/24.0 GB' (one unit for both), or the used figure alone."""
    if used is None:
        return "–"
    if total is None or total <= 0:
        return fmt_mb(used)
    if total < 1024:
        return f"{used:,.0f}/{total:,.0f} MB"
    return f"{used / 1024:.1f}/{total / 1024:.1f} GB"


DATA_WAIT_WARN = 30.0
"""Percent of training time spent waiting for batches above which the wait is flagged: the GPU starves."""


@dataclass(frozen=True)
class Gauge:
    """One reading with its history: 'host 42%' over a sparkline scaled from `low` to `high`."""

    figure: str
    values: np.ndarray
    low: float = 0.0
    high: float | None = None
    alert: bool = False


def gauge_rows(snapshot: Snapshot) -> list[tuple[str, list[Gauge]]]:
    """(row label, its gauges) for CPU, memory and the data-loader wait; a gauge the run did not log is left
    out (older engines logged only the engine process's RSS and CPU)."""
    host_cpu = history(snapshot, "host_cpu_pct")
    proc_cpu = history(snapshot, "proc_cpu_pct", "cpu_percent")  # the engine with its workers, or alone
    cpu = []
    if (value := latest(host_cpu)) is not None:
        cpu.append(Gauge(f"host {value:.0f}%", host_cpu, high=100.0))
    if (value := latest(proc_cpu)) is not None:
        cpu.append(Gauge(f"proc {value:.0f}%", proc_cpu, high=max(100.0, float(np.nanmax(proc_cpu)))))
    rss = history(snapshot, "proc_rss_mb", "rss_mb")
    host_used, host_total = (
        history(snapshot, "host_mem_used_mb"),
        latest(history(snapshot, "host_mem_total_mb")),
    )
    memory = []
    if (value := latest(rss)) is not None:
        memory.append(Gauge(f"rss {fmt_mb(value)}", rss, high=host_total))  # its share of the machine
    if (value := latest(host_used)) is not None:
        memory.append(Gauge(f"host {fmt_used_of(value, host_total)}", host_used, high=host_total))
    wait_pct, wait_ms = history(snapshot, "data_wait_pct"), history(snapshot, "data_wait_ms")
    data = []
    if (value := latest(wait_pct)) is not None:
        starving = value > DATA_WAIT_WARN
        data.append(
            Gauge(f"wait {value:.0f}%" + (" ⚠" if starving else ""), wait_pct, high=100.0, alert=starving)
        )
    if (value := latest(wait_ms)) is not None:
        data.append(Gauge(f"{value:.1f} ms/batch" if value < 10 else f"{value:.0f} ms/batch", wait_ms))
    rows = [("cpu", cpu), ("memory", memory), ("data", data)]
    return [(label, gauges) for label, gauges in rows if gauges]
