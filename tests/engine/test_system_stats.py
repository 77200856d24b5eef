"""System readings: host and process CPU/memory, per-GPU NVML readings (a fake pynvml), the data-loader wait."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from engine.core.config import resolve_config
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    write_json_atomic,
)
from engine.data.wait_clock import WaitClock
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.system_stats import SystemStats
from engine.tasks import TASKS
from engine.trainer import Trainer
from tests.engine.conftest import tiny_overrides

HOST_KEYS = {
    "rss_mb",
    "cpu_percent",
    "proc_rss_mb",
    "proc_cpu_pct",
    "host_cpu_pct",
    "host_mem_used_mb",
    "host_mem_total_mb",
}
NVML_KEYS = {
    "gpu_mem_device_used_mb",
    "gpu_mem_device_total_mb",
    "gpu_util_pct",
    "gpu_temp_c",
    "gpu_power_w",
    "gpu_power_limit_w",
}
_MB = 1024 * 1024


def test_cpu_sample_has_host_and_process_readings_and_no_gpu_keys() -> None:
    values = SystemStats(torch.device("cpu"), waits=WaitClock()).sample()
    assert set(values) == HOST_KEYS  # no batch pulled yet: no data-loader wait
    assert values["proc_rss_mb"] >= values["rss_mb"] > 0
    assert 0 < values["host_mem_used_mb"] <= values["host_mem_total_mb"]
    assert 0 <= values["host_cpu_pct"] <= 100


def test_worker_processes_count_in_the_process_readings() -> None:
    stats = SystemStats(torch.device("cpu"), waits=WaitClock())
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        values = stats.sample()
        assert values["proc_rss_mb"] > values["rss_mb"] + 1  # a Python interpreter is several MB
        assert stats.sample()["proc_cpu_pct"] >= 0
    finally:
        worker.kill()
        worker.wait()
    assert stats.sample()["proc_rss_mb"] == pytest.approx(stats.sample()["rss_mb"], abs=64)


def test_children_are_looked_for_once_per_rescan_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    stats = SystemStats(torch.device("cpu"), waits=WaitClock())
    scans = []
    real_children = stats.process.children
    monkeypatch.setattr(stats.process, "children", lambda **kw: scans.append(1) or real_children(**kw))
    for _ in range(5):
        stats.sample()
    assert len(scans) == 1  # reading every process of a busy node at each log would slow training


class FakeNvml(types.ModuleType):
    """pynvml as nvidia-ml-py exposes it, for device 1 of a machine with two GPUs (no power reading on 0)."""

    NVML_TEMPERATURE_GPU = 0

    def __init__(self, init_error: Exception | None = None) -> None:
        super().__init__("pynvml")
        self.init_error = init_error
        self.opened: list[int] = []

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise self.init_error

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> int:
        raise RuntimeError("no such UUID")

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self.opened.append(index)
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(used=(18_000 + handle) * _MB, total=24_576 * _MB)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(gpu=97, memory=40)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        return 71

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        if handle == 0:
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
        return 281_500  # milliwatts

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: int) -> int:
        return 350_000


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's allocator counters without a GPU."""
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda index: 5120 * _MB)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda index: 6144 * _MB)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda index: 7000 * _MB)


def test_nvml_readings_of_the_training_device(monkeypatch: pytest.MonkeyPatch, fake_cuda: None) -> None:
    nvml = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    values = SystemStats(torch.device("cuda", 1), waits=WaitClock()).sample()
    assert nvml.opened == [1]
    assert set(values) == HOST_KEYS | NVML_KEYS | {
        "gpu_mem_alloc_mb",
        "gpu_mem_reserved_mb",
        "gpu_mem_peak_mb",
    }
    assert values["gpu_mem_device_used_mb"] == 18_001 and values["gpu_mem_device_total_mb"] == 24_576
    assert values["gpu_util_pct"] == 97 and values["gpu_temp_c"] == 71
    assert values["gpu_power_w"] == 281.5 and values["gpu_power_limit_w"] == 350
    assert values["gpu_mem_alloc_mb"] == 5120


def test_an_unsupported_nvml_reading_is_left_out(monkeypatch: pytest.MonkeyPatch, fake_cuda: None) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml())
    values = SystemStats(torch.device("cuda", 0), waits=WaitClock()).sample()
    assert "gpu_power_w" not in values and values["gpu_power_limit_w"] == 350 and values["gpu_util_pct"] == 97


@pytest.mark.parametrize("nvml", [FakeNvml(init_error=RuntimeError("NVML_ERROR_DRIVER_NOT_LOADED")), None])
def test_without_a_driver_or_the_library_torch_counters_remain(
    monkeypatch: pytest.MonkeyPatch, fake_cuda: None, nvml: FakeNvml | None
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", nvml)  # None: `import pynvml` raises ImportError
    values = SystemStats(torch.device("cuda", 0), waits=WaitClock()).sample()
    assert not NVML_KEYS & set(values) and values["gpu_mem_peak_mb"] == 7000


def test_cpu_device_never_touches_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    assert not {key for key in SystemStats(torch.device("cpu"), waits=WaitClock()).sample() if "gpu" in key}
    assert nvml.opened == []


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_wait_clock_share_of_the_window_and_mean_wait_per_batch() -> None:
    clock = ManualClock()
    waits = WaitClock(clock)
    clock.now += 50.0  # an evaluation before the first pull is not training time
    for _ in range(4):
        with waits.waiting():
            clock.now += 0.03  # waiting for the batch
        clock.now += 0.07  # forward and backward
    assert waits.read_and_reset() == {"data_wait_pct": 30.0, "data_wait_ms": 30.0}
    assert waits.read_and_reset() == {}  # nothing pulled since


def test_sample_reads_the_data_wait_and_starts_a_new_window() -> None:
    clock = ManualClock()
    waits = WaitClock(clock)
    with waits.waiting():
        clock.now += 0.2
    clock.now += 0.2
    stats = SystemStats(torch.device("cpu"), waits=waits)
    first = stats.sample()
    assert first["data_wait_pct"] == 50.0 and first["data_wait_ms"] == 200.0
    assert "data_wait_pct" not in stats.sample()


def slow_batches(delay: float) -> Iterator[int]:
    for i in range(3):
        time.sleep(delay)
        yield i


def test_wait_clock_measures_a_slow_iterator() -> None:
    waits, batches = WaitClock(), slow_batches(0.05)
    for _ in range(3):
        with waits.waiting():
            next(batches)
    readings = waits.read_and_reset()
    assert readings["data_wait_ms"] >= 50.0 and readings["data_wait_pct"] > 90.0


def test_a_training_run_records_host_readings_and_data_wait(tmp_path: Path, tiny_city: Path) -> None:
    steps = 3
    cfg = resolve_config("demo", [*tiny_overrides(tiny_city, steps), "data.workers=1"])
    paths = create_run(tmp_path / "runs", "t")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "t", "vpr", [], max_steps=steps))
    runtime = make_runtime(cfg["device"])
    task = TASKS.build("vpr", cfg, runtime, seed_everything(cfg["train"]["seed"]))
    events = EventWriter(paths.events)
    trainer = Trainer(paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events))
    assert trainer.train() == "completed"
    events.close()
    system = [e["values"] for e in iter_events(paths.events) if e["kind"] == "system"]
    assert len(system) == steps
    for values in system:
        assert HOST_KEYS | {"data_wait_pct", "data_wait_ms"} <= set(values)
        assert 0 <= values["data_wait_pct"] <= 100 and values["data_wait_ms"] >= 0
    assert system[0]["proc_rss_mb"] > system[0]["rss_mb"]  # the DataLoader worker
