"""The wall between the three parts: import contracts, fresh interpreters, and a console-only install.

The console (`tui`) and the torch-free core (`engine.core`) never import the engine; the engine never imports
the console. What needs an engine extra runs in an engine subprocess, or says which extra to install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.protocol import EventWriter, create_run, new_run_info, write_json_atomic
from tests.conftest import REPO_ROOT

HEAVY = ("torch", "torchvision", "timm", "faiss", "matplotlib", "submitit", "sklearn")
BIN = Path(sys.executable).parent

PROBE = """
import importlib, json, pkgutil, sys
import {package}
names = [m.name for m in pkgutil.walk_packages({package}.__path__, "{package}.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({{"modules": names, "loaded": sorted(sys.modules)}}))
"""


def loaded_by(package: str) -> tuple[list[str], set[str]]:
    """(every module of `package`, every module loaded once they are all imported) in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(package=package)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["modules"], set(report["loaded"])


def test_import_contracts_hold() -> None:
    done = subprocess.run(
        [str(BIN / "lint-imports")], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("package", ["engine.core", "tui"])
def test_core_and_console_load_no_heavy_package_and_no_engine_code(package: str) -> None:
    modules, loaded = loaded_by(package)
    assert len(modules) > 10
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == [], f"{package} loaded {heavy}"
    engine_code = sorted(m for m in loaded if m.startswith("engine.") and not m.startswith("engine.core"))
    assert engine_code == [], f"{package} loaded {engine_code}"
    if package == "engine.core":
        assert not [m for m in loaded if m.split(".")[0] in ("tui", "textual")]


def test_app_import_stays_light() -> None:
    probe = "import sys, tui.app; print(sorted(m for m in ('yaml', 'textual_plotext', 'plotext', 'numpy') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # yaml only when configs are read, plots only in the monitor


# -- a console-only install: the engine extra's packages are missing ----------------------------------------

BLOCKER = """
import importlib.abc, os, sys
class _Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in os.environ["LABCONSOLE_TEST_MISSING"].split(","):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Missing())
"""


@pytest.fixture
def console_only(tmp_path: Path) -> dict[str, str]:
    """An environment (inherited by every subprocess) in which the engine extra's packages cannot be imported."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(site), str(REPO_ROOT)]),
        LABCONSOLE_TEST_MISSING=",".join(HEAVY),
        COLUMNS="160",
    )


def labconsole(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "labconsole"), *args], capture_output=True, text=True, timeout=120, env=env
    )


def finished_run(runs: Path) -> Path:
    paths = create_run(runs, "done")
    write_json_atomic(
        paths.run_json, {**new_run_info(paths.run_id, "done", "vpr", [], max_steps=2), "status": "completed"}
    )
    with EventWriter(paths.events) as events:
        events.scalar(1, {"loss/total": 1.0, "lr/head": 0.1})
        events.emit("eval", step=2, split="tokyo", metrics={"R@1": 50.0})
    return paths.root


def test_png_export_names_the_missing_extra_and_csvs_are_still_written(
    console_only: dict[str, str], tmp_path: Path
) -> None:
    run = finished_run(tmp_path / "runs")
    done = labconsole(
        console_only, "--runs-dir", str(tmp_path / "runs"), "export", run.name, "--to", str(tmp_path / "out")
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "matplotlib is not installed" in done.stderr and "pip install 'labconsole[engine]'" in done.stderr
    assert (tmp_path / "out" / run.name / "scalars.csv").is_file()


def test_slurm_needs_no_engine_extra_to_cancel_and_names_it_to_submit(
    console_only: dict[str, str], tmp_path: Path
) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("scancel", "sbatch"):
        (fake / tool).write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / tool}.calls\n')
        (fake / tool).chmod(0o755)
    env = dict(console_only, PATH=f"{fake}{os.pathsep}{console_only['PATH']}")
    paths = create_run(tmp_path / "runs", "queued")
    write_json_atomic(
        paths.run_json,
        {
            **new_run_info(paths.run_id, "queued", "vpr", [], max_steps=2),
            "status": "queued",
            "slurm_job_id": "4242",
            "slurm_cluster": "slurm",
        },
    )
    stopped = labconsole(env, "--runs-dir", str(tmp_path / "runs"), "stop", paths.run_id)
    assert stopped.returncode == 0, stopped.stderr
    assert (tmp_path / "scancel.calls").read_text().split() == ["4242"]
    submit = labconsole(
        env,
        "--runs-dir",
        str(tmp_path / "runs"),
        "run",
        "demo",
        "device.launcher=slurm",
        f"data.root={tmp_path / 'city'}",
        "data.synthetic=true",
    )
    assert submit.returncode == 2 and "Traceback" not in submit.stderr, submit.stderr
    assert "submitit" in submit.stderr and "pip install 'labconsole[engine]'" in submit.stderr
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [paths.run_id]  # no run folder for it
