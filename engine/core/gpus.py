"""How many CUDA GPUs this machine shows, without importing torch (launch checks run in the console too)."""

from __future__ import annotations

import functools
import os


def visible_gpu_count() -> int | None:
    """GPUs a process started here would see (CUDA_VISIBLE_DEVICES applied); None when NVML is not installed."""
    found = _nvml_device_count()
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return found
    visible = 0
    for entry in listed.split(","):
        if not entry.strip() or entry.strip().startswith("-"):
            break  # CUDA stops at the first invalid entry: "", "-1"
        visible += 1
    return visible if found is None else min(visible, found)


@functools.lru_cache(maxsize=1)
def _nvml_device_count() -> int | None:
    """Devices the NVIDIA driver reports: 0 without a driver, None without the nvidia-ml-py package."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return 0  # no driver (or no GPU): nothing to run CUDA on
    try:
        return int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()
