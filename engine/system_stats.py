"""Memory and CPU readings for `system` events: torch CUDA allocator, whole-device NVML, host RSS via psutil."""

from __future__ import annotations

from typing import Any

import psutil
import torch

_MB = 1024 * 1024


class SystemStats:
    """Samples memory once per log interval; NVML is optional and silently absent on CPU machines."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.process = psutil.Process()
        self.process.cpu_percent(None)  # the first call only primes the counter
        self.nvml_handle = _nvml_handle(device)

    def sample(self) -> dict[str, float]:
        """Current readings (MB and percent)."""
        values = {
            "rss_mb": self.process.memory_info().rss / _MB,
            "cpu_percent": self.process.cpu_percent(None),
        }
        if self.device.type == "cuda":
            index = self.device.index or 0
            values["gpu_mem_alloc_mb"] = torch.cuda.memory_allocated(index) / _MB
            values["gpu_mem_reserved_mb"] = torch.cuda.memory_reserved(index) / _MB
            values["gpu_mem_peak_mb"] = torch.cuda.max_memory_allocated(index) / _MB
            if self.nvml_handle is not None:
                values["gpu_mem_device_used_mb"] = _nvml_used_mb(self.nvml_handle)
        return values


def _nvml_handle(device: torch.device) -> Any:
    if device.type != "cuda":
        return None
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetHandleByIndex(device.index or 0)
    except Exception:  # NVML missing or driver too old: torch's own counters still work
        return None


def _nvml_used_mb(handle: Any) -> float:
    import pynvml

    return pynvml.nvmlDeviceGetMemoryInfo(handle).used / _MB
