"""The real `labconsole` binary in a detached tmux session: it draws the runs, honours NO_COLOR and quits on `q`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.fixtures import populate_runs

BINARY = Path(sys.executable).with_name("labconsole")
EXIT_MARK = "LABCONSOLE-EXIT="

pytestmark = pytest.mark.skipif(
    not BINARY.exists() or shutil.which("tmux") is None, reason="needs the labconsole binary and tmux"
)


class Tmux:
    """A private tmux server (its own socket) running one 120×32 session."""

    def __init__(self, socket: Path, session: str = "labconsole-test") -> None:
        self.socket = socket
        self.session = session

    def run(self, *args: str) -> str:
        """One tmux command against our server; its stdout."""
        result = subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, timeout=20
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self, command: str, env: dict[str, str]) -> None:
        """Start `command` in a detached 120×32 session; the shell prints the exit code afterwards."""
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        # COLUMNS/LINES can leak in from the test runner; they would override the pane's real size.
        shell = f"env -u COLUMNS -u LINES {exports} {command}; echo {EXIT_MARK}$?; sleep 60"
        self.run("new-session", "-d", "-s", self.session, "-x", "120", "-y", "32", shell)

    def screen(self, escapes: bool = False) -> str:
        """The visible pane (with SGR escapes when asked)."""
        return self.run("capture-pane", "-p", *(["-e"] if escapes else []), "-t", self.session)

    def wait_for(self, *texts: str, timeout: float = 30.0) -> str:
        """Poll the pane until every one of `texts` is on it; the pane's content."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pane = self.screen()
            if all(text in pane for text in texts):
                return pane
            time.sleep(0.1)
        raise AssertionError(f"{texts!r} never all appeared; screen was:\n{self.screen()}")

    def kill(self) -> None:
        """Stop our private server (only ours: it has its own socket)."""
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=20)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    """A private tmux server, killed after the test."""
    server = Tmux(tmp_path / "tmux.sock")
    yield server
    server.kill()


@pytest.fixture
def fixture_runs(tmp_path: Path) -> Path:
    """A populated runs directory."""
    runs = tmp_path / "runs"
    populate_runs(runs)
    return runs


def base_env() -> dict[str, str]:
    """Environment for the console under tmux: a 256-colour terminal with truecolor."""
    return {
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "TZ": "UTC",
        "HOME": os.environ.get("HOME", "/tmp"),
    }


def test_console_lists_runs_and_quits_on_q(tmux: Tmux, fixture_runs: Path) -> None:
    tmux.start(f"{BINARY} --runs-dir {fixture_runs}", base_env())
    pane = tmux.wait_for("r50-gem-baseline", "started", "Quit")  # full width, footer drawn
    for name in ("convnext-gem-ms", "seg-r50-dice-oom", "cls-resnet18", "mnv3-avg-queued"):
        assert name in pane
    assert "9 runs" in pane and "New" in pane and "Quit" in pane  # title bar and footer
    assert re.search(r"interrupted\s+r50-netvlad-cosface", pane)
    tmux.run("send-keys", "-t", tmux.session, "q")
    assert f"{EXIT_MARK}0" in tmux.wait_for(EXIT_MARK, timeout=15)


def test_console_honours_no_color(tmux: Tmux, fixture_runs: Path) -> None:
    tmux.start(f"{BINARY} --runs-dir {fixture_runs}", {**base_env(), "NO_COLOR": "1"})
    tmux.wait_for("r50-gem-baseline", "started", "Quit")
    pane = tmux.screen(escapes=True)
    rgb = [tuple(map(int, m)) for m in re.findall(r"[34]8;2;(\d+);(\d+);(\d+)", pane)]
    assert rgb, "expected truecolor escapes in the captured pane"
    assert all(r == g == b for r, g, b in rgb), "NO_COLOR: only shades of grey"
    tmux.run("send-keys", "-t", tmux.session, "q")
    tmux.wait_for(EXIT_MARK, timeout=15)


@pytest.mark.parametrize("signal_name", ["TERM", "HUP"])
def test_a_killed_console_gives_the_terminal_back(tmux: Tmux, fixture_runs: Path, signal_name: str) -> None:
    tmux.start(f"{BINARY} --runs-dir {fixture_runs}", base_env())
    tmux.wait_for("r50-gem-baseline", "Quit")
    modes = "#{alternate_on} #{mouse_any_flag} #{cursor_flag}"
    assert tmux.run("display", "-p", "-t", tmux.session, modes).split() == ["1", "1", "0"]  # what to undo
    shell = tmux.run("display", "-p", "-t", tmux.session, "#{pane_pid}").strip()
    console = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split()[0]
    subprocess.run(["kill", f"-{signal_name}", console], check=True)
    tmux.wait_for(EXIT_MARK, timeout=15)
    assert tmux.run("display", "-p", "-t", tmux.session, modes).split() == ["0", "0", "1"]
