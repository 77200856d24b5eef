"""Snapshots of the figure view at 80×24: a VPR retrieval strip and the empty state (Pilot tests cover the keys)."""

from __future__ import annotations

from pathlib import Path

from tests.tui.figure_fixtures import write_figure_run
from tests.tui.test_image_view import FiguresApp, opened


def test_retrievals_80x24(snap_compare, tmp_path: Path) -> None:
    run = write_figure_run(tmp_path / "runs")
    assert snap_compare(FiguresApp(run), terminal_size=(80, 24), run_before=opened)


def test_no_figures_yet_80x24(snap_compare, tmp_path: Path) -> None:
    run = tmp_path / "runs" / "20251009-061000-no-figures"
    run.mkdir(parents=True)
    assert snap_compare(FiguresApp(run), terminal_size=(80, 24), run_before=opened)
