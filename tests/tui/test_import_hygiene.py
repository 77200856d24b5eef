"""The console never loads torch, torchvision, timm or faiss: import every tui module in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("torch", "torchvision", "timm", "faiss")

PROBE = """
import importlib, json, pkgutil, sys
import tui, tui.app
names = [m.name for m in pkgutil.walk_packages(tui.__path__, "tui.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in %r)}))
"""


def test_tui_modules_never_import_torch() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE % (FORBIDDEN,)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"tui.screens.runs", "tui.screens.launcher", "tui.data.run_index"} <= set(report["modules"])
    assert report["loaded"] == [], f"tui imported {report['loaded']}"


def test_app_import_stays_light() -> None:
    probe = "import sys, tui.app; print(sorted(m for m in ('yaml', 'textual_plotext', 'plotext', 'numpy') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # yaml only when configs are read, plots only in the monitor
