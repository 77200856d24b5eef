"""Facts about the accelerators that only torch (and NVML) can tell, for a run's provenance."""

from __future__ import annotations

from typing import Any

import torch


def accelerator_facts() -> dict[str, Any]:
    """CUDA and cuDNN versions, the visible GPUs' models, and the driver (empty fields on a CPU-only host)."""
    facts: dict[str, Any] = {"cuda": torch.version.cuda, "cudnn": None, "gpus": [], "driver": None}
    if not torch.cuda.is_available():
        return facts
    facts["cudnn"] = torch.backends.cudnn.version()
    facts["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    try:
        import pynvml

        pynvml.nvmlInit()
        driver = pynvml.nvmlSystemGetDriverVersion()
        facts["driver"] = driver.decode() if isinstance(driver, bytes) else str(driver)
    except Exception:  # NVML missing or too old: the GPU models above still say what ran
        pass
    return facts
