"""The engine process code, in this process: run.json corrupted mid-run comes back whole at the end."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.core.config import dump_config, resolve_config
from engine.core.protocol import create_run, new_run_info, read_json, write_json_atomic
from engine.tasks import TASKS
from tests.test_toy_task import ToyTask


class CorruptingTask(ToyTask):
    """The toy task, which garbles run.json once, in the middle of training (as a failing disk or a stray
    editor would)."""

    run_json: Path
    batches = 0

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        type(self).batches += 1
        if type(self).batches == 3:
            self.run_json.write_text('{"id": "torn', encoding="utf-8")
        return super().next_batch()


def test_a_run_json_corrupted_mid_run_ends_with_every_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine import process

    cfg = resolve_config(
        "cls_demo",
        [
            "data.synthetic=false",
            f"data.root={tmp_path}",
            "train.max_steps=6",
            "train.eval_every=3",
            "train.log_every=1",
            "eval.val_sets=[]",
            "eval.test_sets=[]",
            "device.threads=1",
        ],
    )
    cfg["task"] = {"name": "corrupting"}
    paths = create_run(tmp_path / "runs", "toy")
    paths.config.write_text(dump_config(cfg), encoding="utf-8")
    launched: dict[str, Any] = new_run_info(
        paths.run_id, "toy", "corrupting", ["labconsole", "run", "x.yaml"], tags=("faults",), max_steps=6
    )
    write_json_atomic(paths.run_json, launched)
    CorruptingTask.run_json, CorruptingTask.batches = paths.run_json, 0
    TASKS.register("corrupting", "The toy task, garbling run.json mid-run")(CorruptingTask)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)}
    try:
        assert process.main([str(paths.root)]) == 0
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        TASKS._entries.pop("corrupting")

    info = read_json(paths.run_json)
    assert CorruptingTask.batches >= 3 and info is not None
    for field in ("id", "name", "created", "argv", "task", "tags", "host"):
        assert info[field] == launched[field], field
    assert info["status"] == "completed" and isinstance(info["started"], float)
    assert info["params"]["total"] > 0 and info["main_metric"] == "hits@toy"
    assert info["progress"]["step"] == 6
    assert sum(
        "warning" in line and str(paths.run_json) in line for line in capsys.readouterr().err.splitlines()
    )
