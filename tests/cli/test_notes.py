"""`labconsole note RUN "text"`: notes kept in run.json, listed by `show`, markup shown as typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.core.protocol import update_run_info
from tests.tui.fixtures import make_run
from tui.cli.main import main
from tui.data.run_notes import add_note, notes_of


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "runs", "gem-base", run_id="20251009-085320-gem-base")


def test_note_appends_text_and_time_to_run_json(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = str(run_dir.parent)
    assert main(["note", "--runs-dir", runs, "gem-base", "lr too high:", "loss spikes"]) == 0
    assert "note added to 20251009-085320-gem-base" in capsys.readouterr().out
    assert main(["note", "--runs-dir", runs, "20251009", "[red]second[/] note"]) == 0
    info = json.loads((run_dir / "run.json").read_text())
    assert [n["text"] for n in info["notes"]] == ["lr too high: loss spikes", "[red]second[/] note"]
    assert all(isinstance(n["t"], float) for n in info["notes"])
    assert info["name"] == "gem-base" and info["best"]  # the rest of run.json untouched


def test_show_lists_notes_with_markup_escaped(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_note(run_dir, "first")
    add_note(run_dir, "[bold red]not markup[/]")
    capsys.readouterr()
    assert main(["show", "--runs-dir", str(run_dir.parent), "gem-base"]) == 0
    out = capsys.readouterr().out
    assert out.index("first") < out.index("[bold red]not markup[/]")  # oldest first, shown as typed


def test_notes_survive_the_engine_updating_run_json(run_dir: Path) -> None:
    add_note(run_dir, "keep me")
    update_run_info(run_dir / "run.json", status="completed", progress={"step": 1000})  # as the engine does
    assert [n["text"] for n in notes_of(json.loads((run_dir / "run.json").read_text()))] == ["keep me"]


@pytest.mark.parametrize(("text", "error"), [("   ", "needs some text"), ("x" * 2001, "at most 2,000")])
def test_bad_notes_are_refused(
    run_dir: Path, capsys: pytest.CaptureFixture[str], text: str, error: str
) -> None:
    assert main(["note", "--runs-dir", str(run_dir.parent), "gem-base", text]) == 2
    assert error in capsys.readouterr().err
    assert "notes" not in json.loads((run_dir / "run.json").read_text())


def test_damaged_run_json_is_not_overwritten(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir / "run.json").write_text('{"id": "20251009-085320-gem-base", "name": 5, "status": "running"')
    assert main(["note", "--runs-dir", str(run_dir.parent), "20251009-085320-gem-base", "hello"]) == 2
    assert "cannot add a note" in capsys.readouterr().err
    assert (run_dir / "run.json").read_text().endswith('"running"')
