"""`labconsole watch -- CMD`: fake training scripts printing each parser's real lines are watched to completion
(scalars, eval tables and output.log readable as for any run), a crash fails with its exception line, `stop`
ends a sleeping script through SIGINT and one ignoring SIGINT through SIGTERM after the grace, `rerun` re-watches.

The watched runs start together (each is its own detached watcher) and are awaited on run.json, never slept for.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.core.protocol import iter_events, read_json
from engine.core.watch import start_watch
from tui.cli.main import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "watch"
FINISHED = ("completed", "failed", "stopped", "interrupted")


@pytest.fixture(scope="module", autouse=True)
def no_user_presets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Only the shipped parsers: a tester's own presets/parsers must not change which one `auto` picks."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LABCONSOLE_USER_PRESETS", str(tmp_path_factory.mktemp("user-presets")))
        yield


def watch(runs: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Start a watch through the CLI; the run id it printed."""
    assert main(["--runs-dir", str(runs), "watch", *args]) == 0
    out = capsys.readouterr().out
    return out.split(" as run ", 1)[1].split()[0]


def script(name: str) -> list[str]:
    return ["--", sys.executable, str(FIXTURES / name)]


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def ended(runs: Path, run_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (info := read_json(runs / run_id / "run.json")) and info["status"] in FINISHED and info
    )


def scalars(runs: Path, run_id: str) -> dict[str, dict[int, float]]:
    curves: dict[str, dict[int, float]] = {}
    for event in iter_events(runs / run_id / "events.jsonl"):
        if event["kind"] == "scalar":
            for key, value in event["values"].items():
                curves.setdefault(key, {})[event["step"]] = value
    return curves


def evals(runs: Path, run_id: str) -> list[tuple[int, str, dict[str, float]]]:
    return [
        (e["step"], e["split"], e["metrics"])
        for e in iter_events(runs / run_id / "events.jsonl")
        if e["kind"] == "eval"
    ]


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The four parsers' fake scripts and a crashing one, watched at once with the parser chosen by `auto`."""
    runs = tmp_path_factory.mktemp("runs")
    ids = {}
    for name in ("yolox", "mmengine", "lightning", "keyvalue", "crash"):
        fixture = "crash.py" if name == "crash" else f"fake_{name}.py"
        ids[name] = start_watch([sys.executable, str(FIXTURES / fixture)], name=name, runs_dir=runs).run_id
    for run_id in ids.values():
        ended(runs, run_id)
    return runs, ids


def test_a_watched_yolox_script_is_a_detection_run_with_its_losses_and_coco_table(
    watched: tuple[Path, dict[str, str]],
) -> None:
    runs, ids = watched
    info = read_json(runs / ids["yolox"] / "run.json")
    assert info["status"] == "completed" and info["task"] == "detection" and info["exit_code"] == 0
    assert info["command"] == [sys.executable, str(FIXTURES / "fake_yolox.py")] and info["cwd"] == os.getcwd()
    assert info["watch"]["parser"] == "auto" and info["watch"]["parser_used"] == "yolox"
    assert info["progress"] == {"step": 80, "max_steps": 80, "epoch": 2.0}
    curves = scalars(runs, ids["yolox"])
    assert {"loss/total", "loss/iou", "loss/conf", "loss/cls", "loss/l1", "lr/all"} <= set(curves)
    assert sorted(curves["loss/total"]) == [10, 20, 30, 40, 50, 60, 70, 80]  # (epoch-1)·iters + iter
    assert curves["loss/total"][10] == 15.0 and curves["lr/all"][80] == 1e-3
    table = evals(runs, ids["yolox"])
    assert [(step, split) for step, split, _ in table] == [(40, "val"), (80, "val")]
    last = table[-1][2]
    assert last["mAP"] == 35.0 and last["AR1"] == 41.0 and "mAP50" in last  # percent
    assert "mAP_small" not in last  # COCO's -1: no small objects
    assert last["AP/car"] == 42.0 and last["AP/person"] == 28.0
    assert info["main_metric"] == "mAP" and info["best"]["val"]["mAP"] == 35.0
    log = (runs / ids["yolox"] / "output.log").read_text()
    assert "epoch: 2/2, iter: 40/40" in log and "Average Precision  (AP)" in log


def test_mmengine_lightning_and_keyvalue_lines_become_curves_and_evals(
    watched: tuple[Path, dict[str, str]],
) -> None:
    runs, ids = watched
    for name in ("mmengine", "lightning", "keyvalue"):
        info = read_json(runs / ids[name] / "run.json")
        assert info["status"] == "completed" and info["watch"]["parser_used"] == name, name
    mm = scalars(runs, ids["mmengine"])
    assert sorted(mm["loss/total"]) == [50, 100, 150, 200] and {"loss/cls", "loss/bbox", "lr/all"} <= set(mm)
    assert [(s, m["mAP"]) for s, _, m in evals(runs, ids["mmengine"])] == [(100, 35.0), (200, 40.0)]
    bar = scalars(runs, ids["lightning"])
    assert sorted(bar["loss/total"]) == list(range(1, 41))  # every \r redraw, epoch 0 and 1
    assert [(s, m) for s, _, m in evals(runs, ids["lightning"])] == [
        (20, {"loss": 0.5, "acc": 0.8}),
        (40, {"loss": 0.4, "acc": 0.85}),
    ]
    plain = scalars(runs, ids["keyvalue"])
    assert sorted(plain["loss/total"]) == list(range(1, 31)) and "loss/ce" in plain
    assert [(s, m["acc"]) for s, _, m in evals(runs, ids["keyvalue"])] == [(10, 75.0), (20, 80.0), (30, 85.0)]


def test_a_crash_fails_with_the_exception_line(watched: tuple[Path, dict[str, str]]) -> None:
    runs, ids = watched
    info = read_json(runs / ids["crash"] / "run.json")
    assert info["status"] == "failed" and info["exit_code"] == 1
    assert info["error"].startswith("ValueError: CUDA out of memory (fake)")
    assert "Traceback" in (runs / ids["crash"] / "output.log").read_text()


def test_stop_ends_a_script_by_sigint_or_after_the_grace_by_sigterm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    polite = watch(runs, "--name", "polite", *script("sleeper.py"), capsys=capsys)
    monkeypatch.setenv("IGNORE_SIGINT", "1")
    stubborn = watch(runs, "--name", "stubborn", "--stop-grace", "0.5", *script("sleeper.py"), capsys=capsys)
    for run_id in (polite, stubborn):
        wait_for(lambda run_id=run_id: "step=2 " in (runs / run_id / "output.log").read_text())
    assert main(["--runs-dir", str(runs), "set", polite, "optim.lr=0.1"]) == 2
    assert "a watched command takes no settings" in capsys.readouterr().err
    for run_id in (polite, stubborn):
        assert main(["--runs-dir", str(runs), "stop", run_id]) == 0
    assert ended(runs, polite)["status"] == "stopped"
    assert "interrupted: saving and leaving" in (runs / polite / "output.log").read_text()
    info = ended(runs, stubborn)
    assert info["status"] == "stopped" and info["exit_code"] == -15
    log = (runs / stubborn / "output.log").read_text()
    assert "sent SIGTERM" in log and "saving and leaving" not in log


def test_rerun_watches_the_same_command_again(
    watched: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli.main import main

    runs, ids = watched
    capsys.readouterr()
    assert main(["--runs-dir", str(runs), "rerun", ids["keyvalue"], "--detach"]) == 0
    again = capsys.readouterr().out.split(" as run ", 1)[1].split()[0]
    info = ended(runs, again)
    assert (
        info["status"] == "completed" and info["rerun_of"] == ids["keyvalue"] and info["name"] == "keyvalue"
    )
    assert info["command"] == read_json(runs / ids["keyvalue"] / "run.json")["command"]


def test_unknown_parser_or_command_exit_2_and_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    assert main(["--runs-dir", str(runs), "watch", "--parser", "yolo", "--", "ls"]) == 2
    err = capsys.readouterr().err
    assert "unknown parser 'yolo'" in err and "allowed: auto, keyvalue, lightning, mmengine, yolox" in err
    assert main(["--runs-dir", str(runs), "watch", "--", "no-such-program-here"]) == 2
    assert "command not found: no-such-program-here" in capsys.readouterr().err
    assert not runs.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's prctl")
def test_a_watcher_killed_outright_takes_its_command_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import signal

    runs = tmp_path / "runs"
    # a command that prints nothing: a closed pipe would never end it
    run_id = watch(
        runs, "--name", "orphan", "--", sys.executable, "-c", "import time; time.sleep(60)", capsys=capsys
    )
    info = wait_for(
        lambda: (found := read_json(runs / run_id / "run.json")) and found.get("child_pid") and found
    )
    os.kill(info["pid"], signal.SIGKILL)  # no chance to stop the command or record anything
    wait_for(lambda: not _alive(info["child_pid"]))


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie (ended, not yet reaped) counts as ended
        return stat.read().split(") ", 1)[1][0] != "Z"
