"""Corrupt run folders: one damaged run is listed as damaged, with the reason, and never hides or breaks the others.

Run folders are fabricated (tests/tui/fixtures.py); the CLI runs in-process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.core.protocol import list_runs
from engine.core.protocol.listing import read_run_info
from tests.tui.fixtures import make_run, update_run
from tui.cli.main import main

DAMAGES = {
    "bad-status": ({"status": 42}, "status is 42, expected text"),
    "bad-progress": ({"progress": "x"}, 'progress is "x", expected an object'),
    "bad-best": ({"best": []}, "best is [], expected an object {split: {metric: number}}"),
    "number-name": ({"name": 7}, "name is 7, expected text"),
    "nan-start": ({"started": float("nan")}, "started is NaN, expected a time in unix seconds"),
}


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One good run plus one run per damage: wrong-typed fields, run.json not JSON, config.yaml missing or broken."""
    monkeypatch.setenv("COLUMNS", "200")
    folder = tmp_path / "runs"
    make_run(folder, "good", max_steps=100, run_id="20250102-000000-good")
    for name, (fields, _) in DAMAGES.items():
        update_run(make_run(folder, name, max_steps=100, run_id=f"20250101-000000-{name}"), **fields)
    (make_run(folder, "not-json", run_id="20250101-000000-not-json") / "run.json").write_text("{oops")
    (make_run(folder, "no-config", run_id="20250101-000000-no-config") / "config.yaml").unlink()
    (make_run(folder, "bad-yaml", run_id="20250101-000000-bad-yaml") / "config.yaml").write_text("a: [\n")
    return folder


def cli(runs: Path, *args: str) -> int:
    return main(["--runs-dir", str(runs), *args])


def test_ls_lists_every_run_and_marks_the_damaged_ones(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(runs, "ls") == 0
    out, err = capsys.readouterr()
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "completed" in lines["20250102-000000-good"]
    for name in [*DAMAGES, "not-json"]:
        assert "damaged" in lines[f"20250101-000000-{name}"], name
    for name, (_, reason) in DAMAGES.items():
        assert f"run 20250101-000000-{name}: run.json is damaged: {reason}" in err
    assert "run.json is damaged: not JSON" in err and "Traceback" not in err


def test_ls_json_says_why(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(runs, "ls", "--json") == 0
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["20250101-000000-bad-status"]["status"] == "damaged"
    assert "status is 42" in listed["20250101-000000-bad-status"]["damage"]
    assert "damage" not in listed["20250102-000000-good"]


@pytest.mark.parametrize("name", list(DAMAGES))
def test_show_names_the_damage(runs: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(runs, "show", f"20250101-000000-{name}") == 0
    out = capsys.readouterr().out
    assert "damaged" in out.splitlines()[0]
    assert f"run.json is damaged: {DAMAGES[name][1]}" in " ".join(out.split())


def test_a_finished_run_with_a_corrupt_run_json_is_damaged_not_queued(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(runs, "show", "20250101-000000-not-json") == 0
    out = capsys.readouterr().out
    assert "damaged" in out.splitlines()[0] and "queued" not in out
    assert "run.json is damaged: not JSON" in out


@pytest.mark.parametrize(
    ("name", "reason"),
    [("no-config", "config.yaml is missing"), ("bad-yaml", "config.yaml is damaged: not YAML")],
)
def test_show_survives_a_missing_or_broken_config(
    runs: Path, name: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(runs, "show", f"20250101-000000-{name}") == 0
    out = capsys.readouterr().out
    assert reason in out and "R@1" in out  # the metrics are still shown
    assert cli(runs, "show", f"20250101-000000-{name}", "--json") == 0
    assert reason in json.loads(capsys.readouterr().out)["damage"][0]


def test_compare_and_export_use_what_is_sound(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = ["20250102-000000-good", "20250101-000000-bad-status", "20250101-000000-bad-best"]
    assert cli(runs, "compare", *ids, "--format", "csv") == 0
    out, err = capsys.readouterr()
    assert out.startswith("split,metric,") and "status is 42" in err
    assert cli(runs, "export", *ids, "--to", str(tmp_path / "out"), "--no-plots") == 0
    assert (tmp_path / "out" / "comparison.md").is_file()


def test_export_skips_wrong_typed_event_lines(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = runs / "20250102-000000-good" / "events.jsonl"
    with events.open("a") as handle:
        for line in (
            {"t": 1.0, "kind": "scalar", "step": "x", "values": 5},
            {"t": 1.0, "kind": "system", "step": 3, "values": [1]},
            {"t": 1.0, "kind": "eval", "metrics": None},
            {"t": 1.0, "kind": "eval", "split": "val", "metrics": {"R@1": "high"}},
            {"t": 1.0, "kind": "resume", "step": None},
        ):
            handle.write(json.dumps(line) + "\n")
    assert cli(runs, "export", "good", "--to", str(tmp_path / "out"), "--no-plots") == 0
    assert "skipped 4 event line(s)" in capsys.readouterr().err
    assert (tmp_path / "out" / "20250102-000000-good" / "scalars.csv").read_text().startswith("step,")


@pytest.mark.parametrize("verb", ["show", "compare", "export", "stop", "resume", "set"])
def test_a_huge_run_reference_is_one_line(
    runs: Path, verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = {"compare": ["good"], "export": ["--to", str(tmp_path / "x")], "set": ["optim.lr=1"]}
    assert cli(runs, verb, "a" * 5000, *extra.get(verb, [])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run 'aaaa" in err and "(5,000 characters)" in err


@pytest.mark.parametrize("name", ["exp[/]", "resnet[ablation]", "[bold]x"])
def test_markup_in_names_is_shown_as_written(
    runs: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_run(runs, "markup", max_steps=100, run_id="20250103-000000-markup")
    update_run(folder, name=name, tags=["[red]t"], status="failed", error="oops [/]")
    assert cli(runs, "ls") == 0
    assert name in capsys.readouterr().out
    assert cli(runs, "show", "20250103-000000-markup") == 0
    out = capsys.readouterr().out
    assert out.startswith(name) and "oops [/]" in out


def test_a_killed_runs_duration_stops_at_its_last_event(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "running" in run.json, no `ended`, and a pid that is gone: the process was killed
    folder = make_run(runs, "killed", "running", alive=False, duration=600, run_id="20250104-000000-killed")
    listed = next(r for r in list_runs(runs) if r["id"] == folder.name)
    assert listed["status"] == "interrupted"
    assert cli(runs, "show", folder.name) == 0
    assert "duration 10m00s" in capsys.readouterr().out
    os.utime(folder / "run.json")  # a later touch of run.json does not count once events exist
    assert cli(runs, "ls") == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if folder.name in line)
    assert "10m00s" in line


def test_read_run_info_keeps_the_sound_fields(runs: Path) -> None:
    info = read_run_info(runs / "20250101-000000-bad-status")
    assert info is not None and "status" not in info and info["name"] == "bad-status"
    assert info["damage"].startswith("run.json is damaged: status is 42")
    assert read_run_info(runs / "no-such-run") is None
