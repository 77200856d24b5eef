"""End to end through the real `labconsole` binary: run, ls, show, compare, check, and the error exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.protocol import iter_events, list_runs, read_json
from tests.cli.conftest import tiny_overrides

BIN = Path(sys.executable).with_name("labconsole")


def labconsole(*args: str, runs: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="160")
    return subprocess.run(
        [str(BIN), "--runs-dir", str(runs), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def two_runs(tiny_city: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    runs = tmp_path_factory.mktemp("runs")
    ids = []
    for name, lr in (("base", "1e-3"), ("cand", "3e-3")):
        done = labconsole(
            "run", "demo", *tiny_overrides(tiny_city), f"optim.lr={lr}", "--name", name, runs=runs
        )
        assert done.returncode == 0, done.stderr
        ids.append(done.stdout.strip().splitlines()[-1])
    return runs, ids


def test_run_completes_with_events_in_order(two_runs: tuple[Path, list[str]]) -> None:
    runs, ids = two_runs
    run_dir = runs / ids[0]
    info = read_json(run_dir / "run.json")
    assert info["status"] == "completed" and info["progress"]["step"] == 4
    assert set(info["final"]) == {"val", "sim2real", "night", "sim2sim"}
    assert info["roles"] == {"val": "val", "sim2real": "test", "night": "test", "sim2sim": "test"}
    assert set(info["final"]["sim2real"]) == {"R@1", "R@5", "R@10", "R@20"}
    kinds = [(e["kind"], e.get("step")) for e in iter_events(run_dir / "events.jsonl")]
    evals = [step for kind, step in kinds if kind == "eval"]
    assert evals == [0, 0, 0, 0, 4, 4, 4, 4]
    scalar_steps = [step for kind, step in kinds if kind == "scalar"]
    assert scalar_steps == [1, 2, 3, 4]
    assert kinds[-1] == ("status", None) and (run_dir / "checkpoints" / "last.pt").is_file()
    statuses = [e["status"] for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "status"]
    assert statuses[0] == "running" and statuses[-1] == "completed"


def test_run_prints_recall_table(tiny_city: Path, tmp_path: Path) -> None:
    done = labconsole("run", "demo", *tiny_overrides(tiny_city, steps=2), runs=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sim2real" in done.stdout and "R@1" in done.stdout and "night" in done.stdout


def test_ls_show_compare(two_runs: tuple[Path, list[str]]) -> None:
    runs, (base, cand) = two_runs
    listing = labconsole("ls", runs=runs)
    assert base in listing.stdout and "completed" in listing.stdout
    assert {r["id"] for r in json.loads(labconsole("ls", "--json", runs=runs).stdout)} == {base, cand}
    shown = labconsole("show", "base", runs=runs)
    assert shown.returncode == 0 and "R@1" in shown.stdout
    assert "data train: gmberton VPR folders: 160 images of 40 places" in shown.stdout
    assert "data sim2real: gmberton VPR folders: 60 database / 30 queries" in shown.stdout
    md = labconsole("compare", base, cand, "--baseline", base, "--format", "markdown", runs=runs)
    assert md.returncode == 0, md.stderr
    lines = md.stdout.splitlines()
    assert "| Metric | Baseline | Candidate | Delta |" in lines
    assert lines[0] == "Baseline: **base**; candidate: **cand**" and f"base = `{base}`" in lines[-1]
    final = {r["id"]: r["final"] for r in list_runs(runs)}
    row = next(line for line in lines if line.startswith("| sim2real R@1 "))
    cells = [c.strip().strip("*").rstrip("%").removesuffix(" pp") for c in row.strip("|").split("|")]
    assert float(cells[1]) == pytest.approx(final[base]["sim2real"]["R@1"], abs=0.006)
    assert float(cells[2]) == pytest.approx(final[cand]["sim2real"]["R@1"], abs=0.006)
    assert float(cells[3]) == pytest.approx(
        final[cand]["sim2real"]["R@1"] - final[base]["sim2real"]["R@1"], abs=0.011
    )
    as_json = json.loads(labconsole("compare", base, cand, "--format", "json", runs=runs).stdout)
    assert as_json["baseline"] == base and len(as_json["rows"]) == 16  # val, then three test sets
    csv_out = labconsole("compare", base, cand, "--format", "csv", runs=runs).stdout.splitlines()
    assert csv_out[0] == "split,metric,unit,delta unit,base,cand,delta cand"
    assert csv_out[1].startswith("val,protocol,") and csv_out[2].startswith("val,R@1,%,pp,")
    assert len(csv_out) > 21  # a protocol row and four metrics per set, then train time, img/s…


def test_bad_config_exits_2_with_one_line_and_creates_nothing(tiny_city: Path, tmp_path: Path) -> None:
    done = labconsole("run", "demo", *tiny_overrides(tiny_city), "optim.lrr=1", runs=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr.strip().count("\n") == 0
        and "optim.lrr" in done.stderr
        and "did you mean 'lr'" in done.stderr
    )
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())


def test_engine_side_user_error_fails_the_run_with_exit_2(tiny_city: Path, tmp_path: Path) -> None:
    overrides = [o for o in tiny_overrides(tiny_city) if not o.startswith("model.backbone.")]
    done = labconsole("run", "demo", *overrides, "model.backbone.name=not_a_model", runs=tmp_path)
    assert done.returncode == 2
    assert "not_a_model" in done.stderr and "Traceback" not in done.stderr
    (info,) = list_runs(tmp_path)
    assert info["status"] == "failed" and "not_a_model" in info["error"]


def test_unknown_run_and_bad_id(tmp_path: Path) -> None:
    for args in (("show", "nope"), ("show", "../etc"), ("compare", "a", "b")):
        done = labconsole(*args, runs=tmp_path)
        assert (
            done.returncode == 2
            and "Traceback" not in done.stderr
            and done.stderr.startswith("labconsole: error:")
        )


def test_check_prints_config_and_parameter_table(tiny_city: Path) -> None:
    done = labconsole("check", "demo", *tiny_overrides(tiny_city), runs=tiny_city, timeout=60)
    assert done.returncode == 0, done.stderr
    # the YAML alone on stdout, the report on stderr
    assert "parameters" in done.stderr and "backbone" in done.stderr and "config OK" in done.stderr
    assert "global batch: 8 images per step" in done.stderr  # 4 places × 2 images
    ddp = labconsole(
        "check",
        "demo",
        *tiny_overrides(tiny_city),
        "device=ddp_cpu2",
        "train.grad_accum_steps=2",
        runs=tiny_city,
        timeout=60,
    )
    assert "global batch: 2 processes × 8 images × 2 accumulated = 32 images per step" in ddp.stderr, (
        ddp.stderr
    )
    as_json = json.loads(
        labconsole("check", "demo", *tiny_overrides(tiny_city), "--json", runs=tiny_city).stdout
    )
    groups = {row["group"] for row in as_json["model"]["parameters"]}
    assert {"backbone", "aggregator", "head"} <= groups and as_json["model"]["descriptor_dim"] == 32
    bad = labconsole("check", "demo", "optim.lr=-1", runs=tiny_city)
    assert bad.returncode == 2 and "optim.lr" in bad.stderr
    logits = labconsole("check", "demo", *tiny_overrides(tiny_city), "loss=ce", runs=tiny_city, timeout=60)
    assert logits.returncode == 2 and "Traceback" not in logits.stderr
    assert "loss.name: 'ce' is a loss on logits, vpr trains on descriptors" in logits.stderr


def test_export_csv_png_markdown(two_runs: tuple[Path, list[str]], tmp_path: Path) -> None:
    import csv

    from engine.core.protocol import iter_events

    runs, (base, cand) = two_runs
    done = labconsole("export", base, cand, "--to", str(tmp_path / "out"), runs=runs)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    rows = list(csv.DictReader((out / base / "scalars.csv").read_text().splitlines()))
    scalars = [e for e in iter_events(runs / base / "events.jsonl") if e["kind"] == "scalar"]
    assert [int(r["step"]) for r in rows] == [e["step"] for e in scalars]
    for row, event in zip(rows, scalars):
        for key, value in event["values"].items():
            assert float(row[key]) == pytest.approx(value, rel=1e-6)  # float32's 7 digits
    evals = list(csv.DictReader((out / base / "evals.csv").read_text().splitlines()))
    assert {(r["split"], r["metric"]) for r in evals} >= {("sim2real", "R@1"), ("night", "R@5")}
    for name in ("loss.png", "lr.png", "val_R1.png"):  # the first evaluated set: validation
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| Metric | Baseline | Candidate | Delta |" in (out / "comparison.md").read_text()
