"""Device keys for DDP and Slurm: types, ranges, GPUs per process, sbatch, and the global batch in lr_per_img."""

from __future__ import annotations

import pytest

from engine.core.config import resolve_config
from engine.core.errors import ConfigError, UserError


@pytest.fixture
def gpus(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Pretend this machine has N GPUs."""
    import engine.core.gpus

    def set_count(count: int | None) -> None:
        monkeypatch.setattr(engine.core.gpus, "visible_gpu_count", lambda: count)

    return set_count


def resolve(*overrides: str, check_paths: bool = False) -> dict:
    return resolve_config("demo", list(overrides), check_paths=check_paths)


def test_defaults_train_alone_and_locally() -> None:
    device = resolve()["device"]
    assert device["processes"] == 1 and device["launcher"] == "local" and device["slurm_gpus_per_node"] == 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("device.processes=0", "device.processes: must be ≥ 1, got 0"),
        ("device.processes=1.5", "device.processes: expected an integer"),
        ("device.launcher=pbs", "device.launcher: 'pbs' is not allowed; allowed: local, slurm"),
        ("device.slurm_time_min=0", "device.slurm_time_min: must be ≥ 1"),
    ],
)
def test_bad_values_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(override)


def test_the_ddp_presets_resolve() -> None:
    assert resolve("device=ddp_cpu2")["device"] == {**resolve("device=cpu")["device"], "processes": 2}
    cuda = resolve("device=ddp_cuda")["device"]
    assert cuda["name"] == "cuda" and cuda["processes"] == 2


def test_cuda_processes_need_as_many_gpus_here(tmp_path, gpus) -> None:  # type: ignore[no-untyped-def]
    city = [
        f"data.root={tmp_path}/city",
        "data.synthetic=true",
    ]  # a pending synthetic city passes the path checks
    gpus(1)
    with pytest.raises(
        ConfigError, match="2 processes on cuda need one CUDA GPU each, but this machine has 1"
    ):
        resolve(*city, "device.processes=2", "device.name=cuda", check_paths=True)
    with pytest.raises(ConfigError, match="2 processes on auto"):
        resolve(*city, "device.processes=2", "device.name=auto", check_paths=True)
    gpus(0)
    assert resolve(*city, "device.processes=2", "device.name=auto", check_paths=True)  # auto: gloo on the CPU
    gpus(None)
    assert resolve(
        *city, "device.processes=2", "device.name=cuda", check_paths=True
    )  # no NVML: the engine checks
    gpus(2)
    assert resolve(*city, "device.processes=2", "device.name=cuda", check_paths=True)


def test_slurm_needs_sbatch_and_a_gpu_per_process(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    city = [f"data.root={tmp_path}/city", "data.synthetic=true", "device.launcher=slurm"]
    monkeypatch.delenv("LABCONSOLE_SLURM_CLUSTER", raising=False)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(UserError, match="^Slurm launcher: sbatch not found on this machine"):
        resolve(*city, check_paths=True)
    assert resolve(*city)["device"]["launcher"] == "slurm"  # a config for elsewhere is still a valid config
    with pytest.raises(ConfigError, match="device.slurm_gpus_per_node: 1 GPUs for 2 processes"):
        resolve(*city, "device.name=cuda", "device.processes=2", "device.slurm_gpus_per_node=1")


def test_lr_per_img_counts_every_process() -> None:
    one = resolve("optim.lr_per_img=0.001")["optim"]["lr"]
    two = resolve("optim.lr_per_img=0.001", "device.processes=2")["optim"]["lr"]
    assert two == pytest.approx(2 * one)
