"""Disk faults in the runs folder or an export folder: one line naming the folder and the cause, exit 2.

Tests run as root, which writes anywhere: permission faults are injected; "a file in the way" is real.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from engine.core.errors import UserError
from engine.core.protocol import create_run
from engine.core.protocol.rundir import folder_error
from tests.tui.fixtures import make_run
from tui.cli.main import main


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("not a folder\n")
    return path


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("where", ["under", "itself"])
def test_run_into_a_runs_dir_blocked_by_a_file(
    a_file: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = a_file / "runs" if where == "under" else a_file
    assert main(["--runs-dir", str(runs), "run", "demo", "train.max_steps=1"]) == 2
    err = one_error_line(capsys)
    assert f"cannot create the runs folder {runs}: {a_file} is a file, not a folder" in err
    assert "--runs-dir (or $LABCONSOLE_RUNS) must name a folder you can write" in err
    assert a_file.read_text() == "not a folder\n"  # nothing written lost


def test_runs_dir_from_the_environment(
    a_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LABCONSOLE_RUNS", str(a_file / "runs"))
    assert main(["run", "demo", "train.max_steps=1"]) == 2
    assert f"{a_file} is a file, not a folder" in one_error_line(capsys)


@pytest.mark.parametrize("verb", [["ls"], ["ls", "--json"], ["show", "x"], ["compare", "x", "y"]])
def test_reading_verbs_on_a_runs_dir_that_is_a_file(
    a_file: Path, verb: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--runs-dir", str(a_file), *verb]) == 2
    assert f"cannot read the runs folder {a_file}: {a_file} is a file, not a folder" in one_error_line(capsys)


def test_a_runs_dir_under_proc_cannot_be_made(capsys: pytest.CaptureFixture[str]) -> None:
    # /proc refuses new folders even to root
    assert main(["--runs-dir", "/proc/self/labconsole-runs", "run", "demo", "train.max_steps=1"]) == 2
    assert "cannot create the runs folder /proc/self/labconsole-runs: " in one_error_line(capsys)


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "the file system is read-only"),
        (errno.ENOSPC, "no space left on the device"),
    ],
)
def test_create_run_names_an_injected_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, cause: str
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(code, "refused", str(tmp_path / "runs"))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(UserError) as raised:
        create_run(tmp_path / "runs", "x")
    assert str(raised.value) == (
        f"cannot create the runs folder {tmp_path / 'runs'}: {cause}; "
        "--runs-dir (or $LABCONSOLE_RUNS) must name a folder you can write"
    )


def test_permission_error_message(tmp_path: Path) -> None:
    error = folder_error(
        "cannot write the run folder", tmp_path, PermissionError(errno.EACCES, "Permission denied")
    )
    assert str(error).startswith(f"cannot write the run folder {tmp_path}: permission denied; ")


def test_a_run_folder_that_cannot_be_written_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import engine.core.launch as launch

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(launch, "write_json_atomic", full_disk)
    assert main(["--runs-dir", str(tmp_path / "runs"), "run", "demo", "train.max_steps=1"]) == 2
    err = one_error_line(capsys)
    assert "cannot write the run folder " in err and ": no space left on the device;" in err


@pytest.mark.parametrize("where", ["under", "itself"])
def test_export_to_a_folder_blocked_by_a_file(
    tmp_path: Path, a_file: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_run(tmp_path / "runs", "good", run_id="20250102-000000-good")
    target = a_file / "out" if where == "under" else a_file
    argv = ["--runs-dir", str(tmp_path / "runs"), "export", "good", "--to", str(target), "--no-plots"]
    assert main(argv) == 2
    err = one_error_line(capsys)
    assert f"cannot write the export folder {target}/20250102-000000-good: {a_file} is a file" in err
    assert "--to must name a folder you can write" in err
    assert a_file.read_text() == "not a folder\n"


def test_an_unforeseen_os_error_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a fault no verb foresaw: the last net in main turns it into one line naming the file (cut short)
    import tui.cli.listing_cmds as listing_cmds

    def failing_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error", str(tmp_path / ("d" * 5000)))

    monkeypatch.setattr(listing_cmds, "list_runs", failing_disk)
    assert main(["--runs-dir", str(tmp_path), "ls"]) == 2
    err = one_error_line(capsys)
    assert "(5,0" in err and "characters): input/output error" in err
