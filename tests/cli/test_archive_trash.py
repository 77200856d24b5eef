"""Archive hides runs from listings; delete moves them to the trash, which lists, restores and empties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.core.protocol import list_runs
from tests.tui.fixtures import make_run
from tui.cli.main import main


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    make_run(folder, "keep", run_id="20250101-000000-keep")
    make_run(folder, "old", run_id="20250102-000000-old")
    make_run(folder, "live", status="running", run_id="20250103-000000-live")
    return folder


def test_archive_hides_from_ls_until_all_or_undo(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["archive", "--runs-dir", str(runs), "old"]) == 0
    capsys.readouterr()
    assert main(["ls", "--runs-dir", str(runs)]) == 0
    out, err = capsys.readouterr()
    assert "20250102-000000-old" not in out and "1 archived run(s) not listed: ls --all" in err
    assert main(["ls", "--runs-dir", str(runs), "--all", "--json"]) == 0
    assert {r["id"] for r in json.loads(capsys.readouterr().out)} >= {"20250102-000000-old"}
    assert main(["show", "--runs-dir", str(runs), "old"]) == 0  # still reachable
    assert main(["archive", "--runs-dir", str(runs), "old", "--undo"]) == 0
    capsys.readouterr()
    assert main(["ls", "--runs-dir", str(runs)]) == 0
    assert "20250102-000000-old" in capsys.readouterr().out


def test_delete_restore_and_empty(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["delete", "--runs-dir", str(runs), "old"]) == 2  # no terminal to ask on: --yes needed
    assert "pass --yes" in capsys.readouterr().err and (runs / "20250102-000000-old").is_dir()
    assert main(["delete", "--runs-dir", str(runs), "live", "--yes"]) == 2
    assert "stop it first" in capsys.readouterr().err
    assert main(["delete", "--runs-dir", str(runs), "old", "--yes"]) == 0
    assert not (runs / "20250102-000000-old").exists()
    assert "20250102-000000-old" not in {r["id"] for r in list_runs(runs)}
    capsys.readouterr()
    assert main(["trash", "--runs-dir", str(runs)]) == 0
    listing = capsys.readouterr().out
    assert "20250102-000000-old" in listing and "old" in listing and "KB" in listing
    assert main(["trash", "--runs-dir", str(runs), "--restore", "20250102-000000-old"]) == 0
    assert (runs / "20250102-000000-old" / "run.json").is_file()
    assert main(["delete", "--runs-dir", str(runs), "old", "keep", "--yes"]) == 0
    capsys.readouterr()
    assert main(["trash", "--runs-dir", str(runs), "--empty", "--yes"]) == 0
    assert "deleted 2 run(s) for good" in capsys.readouterr().out
    assert main(["trash", "--runs-dir", str(runs)]) == 0
    assert "the trash is empty" in capsys.readouterr().out
    assert [r["name"] for r in list_runs(runs)] == ["live"]


def test_trash_restore_of_an_unknown_run_is_one_clear_error(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trash", "--runs-dir", str(runs), "--restore", "nope"]) == 2
    assert "no run 'nope' in the trash" in capsys.readouterr().err
