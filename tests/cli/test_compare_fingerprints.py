"""compare marks values measured under another protocol than the baseline's, in the table, markdown, CSV and
JSON; re-evaluations show as rows of their own."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from engine.core.protocol import read_json, write_json_atomic
from engine.core.protocol.fingerprints import differences
from tests.cli.test_exports_true import labconsole
from tests.tui.fixtures import make_run

FINGERPRINT = {
    "set": "pitts30k",
    "files_sha256": "0123456789ab",
    "database": 10_000,
    "queries": 1_000,
    "queries_without_positive": 0,
    "radius_m": 25.0,
    "resolution": "224x224",
    "descriptor_dim": 256,
}


def add_fingerprint(run: Path, **changes: object) -> None:
    info = read_json(run / "run.json") or {}
    info["fingerprints"] = {"pitts30k": {**FINGERPRINT, **changes}}
    info["roles"] = {"pitts30k": "test"}
    write_json_atomic(run / "run.json", info)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A baseline on 1,000 queries, a candidate on one query fewer, and one measured as the baseline was."""
    runs = tmp_path / "runs"
    metrics = {"pitts30k": {"R@1": 80.0, "R@5": 90.0}}
    add_fingerprint(make_run(runs, "base", run_id="b-1", metrics=metrics, splits=["pitts30k"]))
    fewer = make_run(runs, "fewer", run_id="f-2", metrics=metrics, splits=["pitts30k"])
    add_fingerprint(fewer, queries=999, files_sha256="ba9876543210")
    add_fingerprint(make_run(runs, "same", run_id="s-3", metrics=metrics, splits=["pitts30k"]))
    return runs


def test_differences_name_what_changed() -> None:
    assert differences(FINGERPRINT, {**FINGERPRINT, "queries": 740}) == ["1,000 vs 740 queries"]
    assert differences(FINGERPRINT, {**FINGERPRINT, "radius_m": 10.0}) == ["radius 25 vs 10 m"]
    assert differences(FINGERPRINT, {**FINGERPRINT, "resolution": "320x320"}) == ["224x224 vs 320x320"]
    assert differences(FINGERPRINT, {**FINGERPRINT, "files_sha256": "ffffffffffff"}) == ["other files"]
    assert differences(FINGERPRINT, {**FINGERPRINT, "set": "renamed"}) == []
    assert differences(FINGERPRINT, None) == []  # runs from before fingerprints: unknown, not flagged


def test_table_marks_the_one_query_difference(runs: Path) -> None:
    done = labconsole("compare", "base", "fewer", "same", "--use", "best", runs=runs)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "not comparable: 1,000 vs 999 queries" in text
    assert "pitts30k protocol" in text and "10,000 db" in text
    assert text.count("not comparable") == 2  # R@1 and R@5 of "fewer"; "same" agrees with the baseline


def test_markdown_and_csv_carry_the_mark(runs: Path) -> None:
    markdown = labconsole("compare", "base", "fewer", "--md", "--use", "best", runs=runs).stdout
    rows = [line for line in markdown.splitlines() if line.startswith("| pitts30k R@")]
    assert rows and all("not comparable: 1,000 vs 999 queries" in row for row in rows)
    table = list(csv.reader(io.StringIO(labconsole("compare", "base", "fewer", "--csv", runs=runs).stdout)))
    r1 = next(row for row in table if row[1] == "R@1")
    assert r1[-1] == "not comparable: 1,000 vs 999 queries"
    assert any(row[1] == "protocol" for row in table)


def test_json_carries_fingerprints_and_marks(runs: Path) -> None:
    document = json.loads(
        labconsole("compare", "base", "fewer", "same", "--format", "json", runs=runs).stdout
    )
    assert document["fingerprints"]["pitts30k"]["f-2"]["queries"] == 999
    row = next(r for r in document["rows"] if r["metric"] == "R@1")
    assert row["not_comparable"] == [None, "not comparable: 1,000 vs 999 queries", None]


def test_reevaluations_are_rows_of_their_own(runs: Path) -> None:
    info = read_json(runs / "f-2" / "run.json") or {}
    info["reevaluations"] = [
        {
            "t": 0,
            "checkpoint": "best",
            "step": 1000,
            "split": "pitts30k",
            "role": "test",
            "metrics": {"R@1": 81.5},
            "fingerprint": FINGERPRINT,  # re-measured on the baseline's protocol: comparable again
            "settings": {"eval.test_sets": "[...]"},
        }
    ]
    write_json_atomic(runs / "f-2" / "run.json", info)
    markdown = labconsole("compare", "base", "fewer", "--md", "--use", "best", runs=runs).stdout
    [row] = [line for line in markdown.splitlines() if "re-evaluated" in line]
    assert "81.50%" in row and "+1.50 pp" in row and "not comparable" not in row
