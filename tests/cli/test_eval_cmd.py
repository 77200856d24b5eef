"""`labconsole eval RUN --checkpoint N key=value`: a kept checkpoint re-evaluated with other settings is recorded
as a fingerprinted evaluation of the run, shown by compare and show; mistakes are one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.protocol import iter_events, read_json
from tests.cli.conftest import tiny_overrides
from tests.cli.test_cli_e2e import labconsole


@pytest.fixture(scope="module")
def kept_run(tiny_city: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    runs = tmp_path_factory.mktemp("runs")
    done = labconsole(
        "run", "demo", *tiny_overrides(tiny_city), "checkpoint.keep_every=2", "--name", "kept", runs=runs
    )
    assert done.returncode == 0, done.stderr
    return runs, done.stdout.strip().splitlines()[-1]


def test_eval_of_a_kept_checkpoint_records_a_fingerprinted_evaluation(kept_run: tuple[Path, str]) -> None:
    runs, run_id = kept_run
    assert [k["step"] for k in read_json(runs / run_id / "run.json")["checkpoints_kept"]] == [2, 4]
    done = labconsole("eval", run_id, "--checkpoint", "2", "eval.positive_radius_m=10", runs=runs)
    assert done.returncode == 0, done.stderr
    assert "step_000002 re-evaluated" in done.stdout and "10 m" in done.stdout
    records = read_json(runs / run_id / "run.json")["reevaluations"]
    assert {r["split"] for r in records} == {"val", "sim2real", "night", "sim2sim"}
    record = next(r for r in records if r["split"] == "sim2real")
    assert record["checkpoint"] == "step_000002" and record["step"] == 2 and record["role"] == "test"
    assert record["fingerprint"]["radius_m"] == 10.0
    assert record["settings"] == {"eval.positive_radius_m": "10"}
    events = [
        e for e in iter_events(runs / run_id / "events.jsonl") if e["kind"] == "eval" and e.get("reeval")
    ]
    assert len(events) == 4 and events[0]["checkpoint"] == "step_000002" and events[0]["step"] == 2
    shown = labconsole("show", run_id, runs=runs)
    assert "re-evaluated" in shown.stdout and "step 2" in shown.stdout and "kept checkpoints" in shown.stdout


def test_compare_marks_the_reevaluation_as_not_comparable(
    kept_run: tuple[Path, str], tiny_city: Path
) -> None:
    runs, run_id = kept_run
    labconsole("eval", run_id, "--checkpoint", "best", "eval.positive_radius_m=10", runs=runs)
    other = labconsole("run", "demo", *tiny_overrides(tiny_city, steps=2), "--name", "other", runs=runs)
    other_id = other.stdout.strip().splitlines()[-1]
    markdown = labconsole("compare", other_id, run_id, "--md", runs=runs).stdout
    rows = [line for line in markdown.splitlines() if "re-evaluated" in line and "sim2real R@1" in line]
    assert rows and all("not comparable: radius 25 vs 10 m" in row for row in rows)


def test_eval_mistakes_are_one_line(kept_run: tuple[Path, str]) -> None:
    runs, run_id = kept_run
    missing = labconsole("eval", run_id, "--checkpoint", "3", runs=runs)
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("has no checkpoint step_000003; stored: last, best, 2, 4")
    training = labconsole("eval", run_id, "train.max_steps=9", runs=runs)
    assert training.returncode == 2 and "changes only eval.* settings" in training.stderr
    assert "Traceback" not in missing.stderr + training.stderr


def test_check_warns_when_a_test_set_chooses(tiny_city: Path, tmp_path: Path) -> None:
    done = labconsole(
        "check", "demo", *tiny_overrides(tiny_city), "eval.val_sets=[]", "--no-model", runs=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "best checkpoint is chosen on test set sim2real: declare eval.val_sets" in done.stderr
