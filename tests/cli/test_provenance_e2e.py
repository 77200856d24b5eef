"""A run records its provenance at start; show prints it; rerun launches from the stored config and names
what changed since (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.core.protocol import iter_events, read_json, update_run_info
from tests.cli.conftest import tiny_overrides
from tests.cli.test_cli_e2e import labconsole


def test_provenance_recorded_shown_and_rerun_warns(tiny_city: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    done = labconsole("run", "demo", *tiny_overrides(tiny_city, steps=2), "--name", "origin", runs=runs)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    info = read_json(runs / run_id / "run.json")
    provenance = info["provenance"]
    assert provenance["seed"] == 0 and provenance["versions"]["torch"].startswith("2.")
    assert provenance["host"]["cpus"] >= 1 and provenance["accelerators"]["gpus"] == []
    assert provenance["command"].startswith("labconsole --runs-dir") and " run demo " in provenance["command"]
    if provenance["code"].get("dirty"):
        assert (runs / run_id / "code.diff").is_file()

    shown = labconsole("show", run_id, runs=runs)
    assert (
        "torch " + provenance["versions"]["torch"] in shown.stdout
        and "command labconsole --runs-dir" in shown.stdout
    )

    recorded = {**provenance, "versions": {**provenance["versions"], "torch": "2.0.0"}}
    update_run_info(runs / run_id / "run.json", provenance=recorded)
    again = labconsole("rerun", "origin", runs=runs)
    assert again.returncode == 0, again.stderr
    assert (
        f"warning: changed since {run_id} ran: torch 2.0.0 → {provenance['versions']['torch']}"
        in again.stderr
    )
    new_id = again.stdout.strip().splitlines()[-1]
    new = read_json(runs / new_id / "run.json")
    assert new["name"] == "origin-2" and new["rerun_of"] == run_id and new["status"] == "completed"
    assert new["argv"] == ["labconsole", "run", str(runs / run_id / "config.yaml"), "--name", "origin-2"]
    assert new["final"].keys() == info["final"].keys()
    assert json.loads(json.dumps(new["provenance"]))["seed"] == 0
    alerts = [e for e in iter_events(runs / new_id / "events.jsonl") if e["kind"] == "alert"]
    assert not [a for a in alerts if a.get("code") == "provenance_changed"]


def test_rerun_of_a_missing_run_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    done = labconsole("rerun", "nope", runs=tmp_path / "runs")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "nope" in done.stderr
