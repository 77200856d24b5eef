"""`show` prints each loss first epoch → last; `compare` has a row per loss in every format."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from tests.tui.fixtures import make_run, update_run
from tui.cli.main import main


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Two runs of 1,000 steps at 480 steps an epoch (2.08 epochs: epoch 3 unfinished, read up to epoch 2)."""
    folder = tmp_path / "runs"
    make_run(folder, "base", loss="multi_similarity+triplet", run_id="20251009-010000-base")
    make_run(folder, "cand", loss="multi_similarity", run_id="20251009-020000-cand", score=82.0)
    return folder


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_show_prints_each_loss_first_and_last_epoch(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _out(capsys, "--runs-dir", str(runs), "show", "base")
    assert "loss mean, epoch 1 → 2" in out
    assert re.search(r"loss\s+┃\s+epoch 1 ┃\s+epoch 2 ┃\s+change", out), out
    rows = {m[0]: m for m in re.findall(r"│ (\w+)\s+│\s+([\d.]+) │\s+([\d.]+) │\s+([+-][\d.]+%)", out)}
    assert list(rows) == ["total", "multi_similarity", "triplet"]  # the total first, then as logged
    first, last, change = (float(v.rstrip("%")) for v in rows["total"][1:])
    assert last < first and change == pytest.approx(100 * (last - first) / first, abs=0.2)


def test_show_of_a_short_run_says_it_reads_tenths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_run(tmp_path / "runs", "short", max_steps=400, run_id="20251009-030000-short")
    update_run(folder, progress={"step": 400, "max_steps": 400, "epoch": 0.833})
    out = _out(capsys, "--runs-dir", str(tmp_path / "runs"), "show", "short")
    assert "loss mean, first 10 % → last 10 % of the logged points (fewer than 2 epochs known)" in out


def test_compare_has_a_row_per_loss_in_every_format(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--runs-dir", str(runs), "compare", "base", "cand"]
    markdown = _out(capsys, *base, "--md")
    total = re.search(
        r"\| loss/total epoch 1 → 2 \| (-[\d.]+)% \(([\d.]+) → ([\d.]+)\) \| -[\d.]+% \(", markdown
    )
    assert total, markdown
    assert re.search(r"\| loss/triplet epoch 1 → 2 \| -[\d.]+% \([\d.]+ → [\d.]+\) \| - \|  \|", markdown)
    assert markdown.index("loss/total epoch 1 → 2") < markdown.index("| loss trend |")
    table = _out(capsys, *base)
    assert "loss/multi_similarity epoch 1 → 2" in table
    rows = {row[1]: row for row in csv.reader(io.StringIO(_out(capsys, *base, "--csv")))}
    assert rows["loss/total epoch 1 → 2"][4].startswith(total[1] + "% (")
    extras = {row["label"]: row for row in json.loads(_out(capsys, *base, "--format", "json"))["extras"]}
    change = extras["loss/total epoch 1 → 2"]
    assert change["values"][0] == pytest.approx(float(total[1]), abs=0.05)  # the number itself, unrounded
    assert change["texts"][0] == f"{total[1]}% ({total[2]} → {total[3]})"
