"""A task added in the test suite alone reaches every reader: ls, the runs screen, the monitor and compare.

The toy task registers itself in the engine's task registry, the real engine process code trains and
evaluates it, and the console shows its main metric and metric order from what the run folder publishes —
without a line of console code knowing the task.
"""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from torch import nn

from engine.core.config import dump_config, resolve_config
from engine.core.protocol import create_run, new_run_info, read_json, write_json_atomic
from engine.tasks import TASKS
from tests.tui.test_snapshots_monitor import MonitorApp, until_loaded
from tui.cli.main import main as labconsole
from tui.data.compare_runs import load_run, main_eval
from tui.data.run_index import RunIndex
from tui.data.summary_cache import SummaryCache
from tui.widgets.eval_table import EvalTable

MAIN, OTHER = "hits@toy", "f1@toy"


class ToyTask:
    """Fits one number; 'evaluates' on two splits with a made-up pair of metrics the console has never seen."""

    main_metric = MAIN
    freeze_phase: Any = None

    def __init__(self, cfg: dict[str, Any], runtime: Any, generator: torch.Generator) -> None:
        self.cfg, self.generator = cfg, generator
        self.model = nn.Linear(4, 1)
        self.loss = nn.MSELoss()

    def metric_order(self) -> list[str]:
        return [OTHER, MAIN]  # deliberately not alphabetical, not main-first: readers must follow it

    def modules(self) -> dict[str, nn.Module]:
        return {"head": self.model}

    def parameters(self) -> Iterator[nn.Parameter]:
        return iter(self.model.parameters())

    def prepare(self) -> None:
        """Nothing to initialise from data."""

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = torch.randn(8, 4, generator=self.generator)
        return inputs, inputs.sum(1, keepdim=True)

    def compute_loss(
        self, inputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss = self.loss(self.model(inputs), targets)
        return loss, {"loss/mse": loss.detach()}

    @torch.no_grad()
    def evaluate(self) -> dict[str, dict[str, float]]:
        error = float(self.loss(self.model(torch.ones(1, 4)), torch.full((1, 1), 4.0)))
        score = round(100.0 / (1.0 + error), 2)
        return {"near": {MAIN: score, OTHER: score / 2}, "far": {MAIN: score / 3, OTHER: score / 4}}

    def main_score(self, results: dict[str, dict[str, float]]) -> float | None:
        return next(iter(results.values()))[MAIN] if results else None

    def steps_per_epoch(self) -> float:
        return 10.0

    def epoch(self, step: int) -> float:
        return step / 10

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])

    def close(self) -> None:
        """No workers."""


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy run trained and evaluated by the engine process code (in this process, for the registry)."""
    from engine import process

    TASKS.register("toy", "A task the console has never heard of")(ToyTask)
    runs = tmp_path_factory.mktemp("runs")
    cfg = resolve_config(
        "cls_demo",
        [
            "data.synthetic=false",
            f"data.root={runs}",
            "train.max_steps=6",
            "train.eval_every=3",
            "train.log_every=1",
            "eval.val_sets=[]",
            "eval.test_sets=[]",
            "device.threads=1",
        ],
    )
    cfg["task"] = {"name": "toy"}
    paths = create_run(runs, "toy")
    paths.config.write_text(dump_config(cfg), encoding="utf-8")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "toy", "toy", [], max_steps=6))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)}
    try:
        assert process.main([str(paths.root)]) == 0, paths.root / "output.log"
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        TASKS._entries.pop("toy")
    return paths.root


def test_the_run_folder_publishes_the_toy_metrics(toy_run: Path) -> None:
    info = read_json(toy_run / "run.json")
    assert info["status"] == "completed" and info["task"] == "toy"
    assert info["main_metric"] == MAIN and info["metric_order"] == [OTHER, MAIN]
    assert info["settable"][:3] == [
        "optim.lr",
        "optim.lr_scale",
        "train.max_steps",
    ]  # the steering dialog's list
    assert list(info["best"]) == ["near", "far"]
    assert yaml.safe_load((toy_run / "config.yaml").read_text())["task"] == {"name": "toy"}


def test_ls_shows_its_main_metric(toy_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out = io.StringIO()
    with redirect_stdout(out):
        assert labconsole(["--runs-dir", str(toy_run.parent), "ls"]) == 0
    best = read_json(toy_run / "run.json")["best"]["near"][MAIN]
    assert f"{MAIN} {best:.1f}" in out.getvalue()


def test_runs_screen_row_and_compare_use_the_published_metric(toy_run: Path) -> None:
    (row,) = RunIndex(toy_run.parent, SummaryCache(None)).refresh().rows.values()
    assert row.task == "toy" and row.metric_name == MAIN
    assert row.metric == read_json(toy_run / "run.json")["best"]["near"][MAIN]
    assert main_eval([load_run(toy_run)]) == ("near", MAIN)


async def test_monitor_eval_table_follows_the_published_order(toy_run: Path) -> None:
    app = MonitorApp(toy_run)
    async with app.run_test(size=(120, 32)) as pilot:
        await until_loaded(pilot)
        table = app.screen.query_one(EvalTable)
        labels = [str(column.label) for column in table.columns.values()]
        assert labels[1:] == [OTHER, MAIN]
