"""The logging API for scripts (`import labconsole`): a run folder the CLI reads like an engine run, the end
status from the context manager, and steering answered by the script's own loop."""

from __future__ import annotations

import json
from pathlib import Path

import labconsole
import pytest
import yaml

from engine.core.protocol import iter_events, read_json, send_control
from engine.core.protocol.columns import read_index
from tui.cli.main import main


def cli_json(capsys: pytest.CaptureFixture[str], runs: Path, *args: str) -> object:
    capsys.readouterr()
    assert main(["--runs-dir", str(runs), *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_log_eval_finish_read_by_ls_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = labconsole.init(
        name="my loop", config={"optim": {"lr": 0.001}}, tags=["foreign"], runs_dir=tmp_path
    )
    assert read_json(run.paths.run_json)["status"] == "running"
    for step in range(1, 11):
        run.log({"loss/total": 1.0 / step, "lr": 0.001}, step=step)
    run.eval("val", {"top1": 61.25, "top5": 90.0}, step=5)
    run.eval("test", {"top1": 55.0}, step=5)
    run.eval("val", {"top1": 58.0, "top5": 91.0}, step=10)  # worse on the main metric: best stays at step 5
    run.finish()
    assert yaml.safe_load(run.paths.config.read_text()) == {"optim": {"lr": 0.001}}
    info = read_json(run.paths.run_json)
    assert info["status"] == "completed" and info["tags"] == ["foreign"] and info["error"] is None
    assert info["main_metric"] == "top1" and info["metric_order"] == ["top1", "top5"]
    assert info["best"] == {"val": {"top1": 61.25, "top5": 90.0}, "test": {"top1": 55.0}}
    assert info["best_step"] == 5 and info["final"]["val"]["top1"] == 58.0
    assert info["progress"]["step"] == 10
    listed = cli_json(capsys, tmp_path, "ls")
    row = next(r for r in listed if r["id"] == run.id)  # type: ignore[union-attr]
    assert row["status"] == "completed" and row["name"] == "my loop"
    shown = cli_json(capsys, tmp_path, "show", run.id)
    assert shown["run"]["best"]["val"]["top1"] == 61.25 and shown["config"] == {"optim": {"lr": 0.001}}  # type: ignore[index]
    scalars = [e for e in iter_events(run.paths.events) if e["kind"] == "scalar"]
    assert [e["step"] for e in scalars] == list(range(1, 11))
    index = read_index(run.paths.events)  # the engine's writer: events.cols indexes the same numbers
    assert index is not None and list(index.series["scalar", "loss/total"][0]) == list(range(1, 11))


def test_exception_in_context_marks_failed_with_message(tmp_path: Path) -> None:
    with pytest.raises(ValueError), labconsole.init(name="boom", runs_dir=tmp_path) as run:
        run.log({"loss/total": 1.0}, step=1)
        raise ValueError("loss became nan")
    info = read_json(run.paths.run_json)
    assert info["status"] == "failed" and info["error"] == "ValueError: loss became nan"
    assert info["exit_code"] == 1
    last = list(iter_events(run.paths.events))[-1]
    assert last["kind"] == "status" and last["status"] == "failed"


def test_keyboard_interrupt_marks_interrupted(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), labconsole.init(runs_dir=tmp_path) as run:
        raise KeyboardInterrupt
    assert read_json(run.paths.run_json)["status"] == "interrupted"


def test_poll_control_returns_set_and_answers_the_rest(tmp_path: Path) -> None:
    with labconsole.init(runs_dir=tmp_path, settable=["optim.lr"]) as run:
        run.log({"loss/total": 1.0}, step=3)
        wanted = send_control(run.paths.control, "set", {"optim.lr": 1e-4})
        send_control(run.paths.control, "pause")
        commands = run.poll_control()
        assert [c["id"] for c in commands] == [wanted] and commands[0]["values"] == {"optim.lr": 1e-4}
        run.answer(commands[0], applied=True)
        send_control(run.paths.control, "stop")
        assert run.poll_control() == [] and run.stop_requested
    answers = [e for e in iter_events(run.paths.events) if e["kind"] == "control"]
    assert [(a["action"], a["status"]) for a in answers] == [
        ("pause", "rejected"),
        ("set", "applied"),
        ("stop", "applied"),
    ]
    assert answers[1]["step"] == 3 and answers[1]["id"] == wanted
    info = read_json(run.paths.run_json)
    assert info["status"] == "stopped" and info["settable"] == ["optim.lr"]


def test_lower_is_better_main_metric(tmp_path: Path) -> None:
    with labconsole.init(runs_dir=tmp_path, main_metric="mse", higher_is_better=False) as run:
        for step, mse in ((1, 0.5), (2, 0.2), (3, 0.3)):
            run.eval("val", {"mse": mse}, step=step)
    info = read_json(run.paths.run_json)
    assert info["best"] == {"val": {"mse": 0.2}} and info["best_step"] == 2
