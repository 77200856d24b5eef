"""A run evaluated but never trained says so wherever its "final" metrics are shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.fixtures import make_run, update_run
from tui.cli.main import main


def test_ls_and_show_say_when_final_metrics_are_the_untrained_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    trained = make_run(runs, "trained", run_id="20251009-010000-trained")
    untrained = make_run(runs, "untrained", run_id="20251009-020000-untrained", status="stopped")
    update_run(untrained, progress={"step": 0, "max_steps": 1000, "epoch": 0.0})
    assert main(["--runs-dir", str(runs), "ls"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "(untrained)" in rows[untrained.name] and "(untrained)" not in rows[trained.name]
    assert main(["--runs-dir", str(runs), "show", untrained.name]) == 0
    assert ", untrained (step 0)" in capsys.readouterr().out
