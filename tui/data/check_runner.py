"""`labconsole check CONFIG --json` in a subprocess (so the console stays torch-free), parsed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CHECK_TIMEOUT = 300.0
"""Seconds before a check is given up (building a large backbone on a slow CPU takes a while)."""

CLI_PREFIX = "labconsole: error: "
"""How the CLI starts its one-line errors (the composer shows the rest)."""

CANCELLED = "check cancelled"
"""The error of a check stopped by a newer one."""

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The checkout holding `engine/`, put on the subprocess's PYTHONPATH."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a check: the parsed JSON (`config`, `model`) or a one-line error."""

    data: dict[str, Any] = field(default_factory=dict)
    """`{"config": resolved config, "model": {descriptor_dim, parameters, phases, ...}}` on success."""
    error: str = ""
    """Why the check failed (empty on success)."""

    @property
    def ok(self) -> bool:
        """Whether the check succeeded."""
        return not self.error


_running: set[subprocess.Popen[str]] = set()
"""Checks under way: a newer one stops them (`cancel_checks`), so edits never queue model builds."""
_running_lock = threading.Lock()


def cancel_checks() -> None:
    """Stop every check under way (their callers get a 'cancelled' result)."""
    with _running_lock:
        for process in _running:
            process.terminate()


def check_command(config_path: Path) -> list[str]:
    """The argv of the check subprocess."""
    return [sys.executable, "-m", "tui.cli.main", "check", str(config_path), "--json"]


def check_env() -> dict[str, str]:
    """The environment of the check: offline hub (never download weights to count them), engine importable."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    return env


def last_line(text: str) -> str:
    """The last non-empty line of a process's stderr (the CLI writes its one-line error there)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix(CLI_PREFIX) if lines else ""


def run_check(config: dict[str, Any], timeout: float = CHECK_TIMEOUT) -> CheckResult:
    """Write `config` to a temporary YAML file and check it; blocking (call it from a thread worker)."""
    with tempfile.TemporaryDirectory(prefix="labconsole-check-") as folder:
        path = Path(folder) / "composer.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        try:
            process = subprocess.Popen(
                check_command(path),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=check_env(),
                cwd=os.getcwd(),
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            return CheckResult(error=f"cannot run the check: {exc}")
        with _running_lock:
            _running.add(process)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return CheckResult(error=f"check timed out after {timeout:.0f} s")
        finally:
            with _running_lock:
                _running.discard(process)
    if process.returncode < 0:
        return CheckResult(error=CANCELLED)
    if process.returncode != 0:
        return CheckResult(error=last_line(stderr) or f"check failed (exit {process.returncode})")
    return parse_output(stdout)


def parse_output(stdout: str) -> CheckResult:
    """Parse the JSON the check printed (anything before the first `{` is ignored)."""
    start = stdout.find("{")
    try:
        data = json.loads(stdout[start:]) if start >= 0 else None
    except json.JSONDecodeError as exc:
        return CheckResult(error=f"unreadable check output: {exc}")
    if not isinstance(data, dict):
        return CheckResult(error="the check printed no JSON")
    return CheckResult(data=data)
