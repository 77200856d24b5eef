"""`labconsole sweep` in-process: bad input is one line and exit 2 with nothing created; ls, show and export of
hand-made sweeps (piped output whole); the PNG of a metric against a numeric swept key."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from engine.core.sweep.table import build_sweep_table
from tests.sweep.fake_sweep import make_sweep
from tui.cli.main import main
from tui.data.sweep_plot import numeric_keys, uses_log_x

LONG_NAME = "aggregator-and-learning-rate-study-of-the-backbone-paper-long-name"


def run_cli(capsys: pytest.CaptureFixture[str], runs: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--runs-dir", str(runs), "sweep", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "optim.lrr=1e-3,3e-3"], "sweep point 0 (optim.lrr=1e-3): optim.lrr: unknown key"),
        (["demo", "optim.lr=1e-3,-1"], "sweep point 1 (optim.lr=-1): optim.lr"),
        (
            ["demo", "optim.lr=1e-3,3e-3", "model.aggregator=gem,netvlad,mixvpr", "--zip"],
            "lists must be as long",
        ),
        (["demo", "train.max_steps=2"], "at least one key with several values"),
        (["demo", "optim.lr=1e-3,,1"], "bad sweep axis"),
        (["demo", "optim.lr=1e-3,3e-3", "--parallel", "0"], "--parallel 0"),
        (["demo", "optim.lr=1e-3,3e-3", "--baseline", "2"], "points are 0 to 1"),
        (["nope.yaml", "optim.lr=1e-3,3e-3"], "config file not found"),
        (["show"], "needs the sweep's ID"),
        (["show", "nope"], "no sweep 'nope'"),
        (["pause", "nope"], "no sweep 'nope'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, tmp_path, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("labconsole: error: ") and message in err, err
    assert not (tmp_path / ".sweeps").exists() or not any((tmp_path / ".sweeps").iterdir())
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".")]  # no run folder either


@pytest.fixture
def lr_sweep(tmp_path: Path) -> tuple[Path, str]:
    results = [{"sim2real": {"R@1": v, "R@5": v + 10}} for v in (70.0, 74.5, 72.0, 60.0)]
    paths = make_sweep(
        tmp_path,
        {"optim.lr": ["1e-4", "3e-4", "1e-3", "1e-2"]},
        results,
        statuses=["completed", "completed", "completed", "running"],
        name=LONG_NAME,
    )
    return tmp_path, paths.sweep_id


def test_ls_and_show_piped_are_whole(capsys: pytest.CaptureFixture[str], lr_sweep: tuple[Path, str]) -> None:
    runs, sweep_id = lr_sweep
    code, out, _ = run_cli(capsys, runs, "ls")
    assert code == 0 and sweep_id in out and LONG_NAME in out and "…" not in out
    assert "3/4" in out and "sim2real R@1 74.50 (#1 lr=3e-4)" in out
    code, out, _ = run_cli(capsys, runs, "show", LONG_NAME)  # by name as well as id
    lines = out.splitlines()
    assert code == 0 and "…" not in out and len(lines) == 6
    assert lines[2].split()[:4] == ["0*", "1e-4", "70.00", "base"]
    assert lines[3].split()[:4] == ["1", "3e-4", "74.50", "+4.50"]
    code, out, _ = run_cli(capsys, runs, "show", sweep_id, "--format", "csv", "--baseline", "1")
    assert code == 0 and out.splitlines()[1].startswith("0,1e-4,70.00,-4.50,80.00,-4.50,")
    code, out, _ = run_cli(capsys, runs, "show", sweep_id, "--format", "markdown", "--use", "final")
    assert code == 0 and "**74.50**" in out and "final values" in out


def test_export_writes_markdown_csv_and_a_log_x_png(
    capsys: pytest.CaptureFixture[str], lr_sweep: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    runs, sweep_id = lr_sweep
    out_dir = tmp_path_factory.mktemp("export")
    code, _, err = run_cli(capsys, runs, "export", sweep_id, "--to", str(out_dir))
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [f"{sweep_id}-optim.lr.png", f"{sweep_id}.csv", f"{sweep_id}.md"]
    assert Image.open(out_dir / f"{sweep_id}-optim.lr.png").size == (900, 560)
    table = build_sweep_table(runs, sweep_id)
    assert numeric_keys(table) == ["optim.lr"]
    assert uses_log_x([1e-4, 1e-2]) and not uses_log_x([1e-3, 3e-3])
    code, _, err = run_cli(capsys, runs, "export", sweep_id)
    assert code == 2 and "needs --to DIR" in err
