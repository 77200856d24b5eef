"""Validation sets choose, test sets are reported: best.pt and run.json `best` follow the first validation set;
values are stored rounded; every evaluation carries its fingerprint; numbered checkpoints are kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.checkpoint import load_checkpoint
from engine.core.protocol import iter_events, read_json
from tests.engine.test_trainer import train

SCRIPT = [  # (val R@1, sim2real R@1) at steps 0, 2, 4: the test set peaks where validation does not
    (10.0, 5.0),
    (50.0, 20.0),
    (30.0, 7.3999999999999995),
]


def scripted(task: Any) -> None:
    """Evaluations that return SCRIPT in turn, for every set the run evaluates."""
    results: Iterator[tuple[float, float]] = iter(SCRIPT)

    def evaluate() -> dict[str, dict[str, float]]:
        val, test = next(results)
        return {
            "val": {"R@1": val},
            "sim2real": {"R@1": test},
            "night": {"R@1": 1.0},
            "sim2sim": {"R@1": 2.0},
        }

    task.evaluate = evaluate


def test_best_follows_the_validation_set_and_holds_every_set_at_that_step(
    tmp_path: Path, tiny_city: Path
) -> None:
    run_dir, status = train(tmp_path, tiny_city, "train.eval_every=2", steps=4, patch=scripted)
    assert status == "completed"
    info = read_json(run_dir / "run.json")
    assert info["best_step"] == 2
    assert info["best"]["val"] == {"R@1": 50.0} and info["best"]["sim2real"] == {"R@1": 20.0}  # not its max
    assert info["final"]["sim2real"] == {"R@1": 7.4}  # rounded, not 7.3999999999999995
    assert load_checkpoint(run_dir / "checkpoints" / "best.pt")["step"] == 2
    assert info["roles"] == {"val": "val", "sim2real": "test", "night": "test", "sim2sim": "test"}


def test_eval_events_carry_role_and_fingerprint(tmp_path: Path, tiny_city: Path) -> None:
    run_dir, _ = train(tmp_path, tiny_city, steps=2)
    evals = [e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "eval"]
    val = next(e for e in evals if e["split"] == "val")
    sim2real = next(e for e in evals if e["split"] == "sim2real")
    assert val["role"] == "val" and sim2real["role"] == "test"
    fingerprint = sim2real["fingerprint"]
    assert fingerprint["database"] == 60 and fingerprint["queries"] == 30
    assert fingerprint["radius_m"] == 25.0 and fingerprint["resolution"] == "48x72"
    assert fingerprint["descriptor_dim"] == 32 and len(fingerprint["files_sha256"]) == 12
    assert val["fingerprint"]["files_sha256"] != fingerprint["files_sha256"]  # a district of its own
    for event in evals:
        for value in event["metrics"].values():
            assert value == round(value, 4)
    scalars = [e for e in iter_events(run_dir / "events.jsonl") if e["kind"] == "scalar"]
    assert all(v == float(f"{v:.6g}") for v in scalars[0]["values"].values())  # 6 significant digits
    assert read_json(run_dir / "run.json")["fingerprints"]["sim2real"] == fingerprint


def test_numbered_checkpoints_are_kept_within_the_budget(tmp_path: Path, tiny_city: Path) -> None:
    run_dir, _ = train(tmp_path, tiny_city, "checkpoint.keep_every=2", "checkpoint.max_kept=1", steps=4)
    kept = read_json(run_dir / "run.json")["checkpoints_kept"]
    assert [k["step"] for k in kept] == [4] and kept[0]["path"] == "checkpoints/step_000004.pt"
    assert kept[0]["bytes"] == (run_dir / kept[0]["path"]).stat().st_size
    assert not (run_dir / "checkpoints" / "step_000002.pt").exists()  # past max_kept, the oldest goes
    assert load_checkpoint(run_dir / kept[0]["path"])["step"] == 4
