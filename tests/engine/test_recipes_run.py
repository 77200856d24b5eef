"""Every recipe in presets/recipes/ trains a handful of steps and evaluates, in-process, on the tiny synthetic set
of its task (the recipes other issues add are picked up by themselves).

Each recipe is shrunk the same way: 2 steps, a batch of a few images, the tiny data set of its task in place of
the embedded one, no figures, one thread; its model, loss, schedule, freeze and augmentation stay its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.core.config import resolve_config
from engine.core.config.recipes import list_recipes
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    write_json_atomic,
)
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.trainer import Trainer
from tests.engine.conftest import tiny_city  # noqa: F401
from tests.engine.seg_cls_data import tiny_cls, tiny_det, tiny_seg  # noqa: F401

STEPS = 2
TINY_DATA = {
    "vpr": "tiny_city",
    "segmentation": "tiny_seg",
    "classification": "tiny_cls",
    "detection": "tiny_det",
}
"""The session fixture holding each task's tiny synthetic set."""
EPOCH_KEYS = ("train.max_epochs", "schedule.warmup_epochs", "augment.no_aug_epochs")
"""Epoch-unit keys, which win over the step keys when set: zeroed so the run is STEPS long."""


def ci_overrides(cfg: dict[str, Any], root: Path) -> list[str]:
    """`cfg` (a recipe resolved as shipped) shrunk to a handful of steps on the tiny set at `root`."""
    out = [
        f"data.root={root}",
        "data.synthetic=false",
        f"train.max_steps={STEPS}",
        "train.log_every=1",
        "train.eval_every=0",
        "train.eval_at_start=false",
        "eval.batch_size=16",
        "eval.figures=false",
        "device.name=cpu",
        "device.threads=1",
        "device.processes=1",
        "device.launcher=local",
    ]
    train = cfg["train"]
    if cfg["task"]["name"] == "vpr":
        out += [
            f"train.places_per_batch={min(4, train['places_per_batch'])}",
            f"train.images_per_place={min(2, train['images_per_place'])}",
        ]
    else:
        out.append(f"train.batch_size={min(4, train['batch_size'])}")
    if cfg["model"]["backbone"]["name"] == "plain_cnn":
        out.append("model.backbone.width=8")
    if isinstance(cfg["loss"].get("cosplace"), dict):  # the tiny city's 40 places make one CosPlace group
        out += ["loss.cosplace.groups_n=1", "loss.cosplace.groups_l=1", "loss.cosplace.groups_num=1"]
    for dotted in EPOCH_KEYS:
        section, key = dotted.split(".")
        if key in cfg.get(section, {}):
            out.append(f"{dotted}=0")
    return out


@pytest.mark.parametrize("name", list_recipes())
def test_every_recipe_trains_a_few_steps(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    shipped = resolve_config(name, check_paths=False)
    task_name = shipped["task"]["name"]
    if task_name not in TINY_DATA:
        pytest.fail(f"recipe {name}: no tiny data set for task {task_name}; add one to TINY_DATA")
    root = request.getfixturevalue(TINY_DATA[task_name])
    cfg = resolve_config(name, ci_overrides(shipped, root))
    paths = create_run(tmp_path / "runs", name)
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, name, task_name, [], max_steps=STEPS))
    runtime = make_runtime(cfg["device"])
    task = TASKS.build(task_name, cfg, runtime, seed_everything(cfg["train"]["seed"]))
    events = EventWriter(paths.events)
    try:
        status = Trainer(
            paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events)
        ).train()
    finally:
        events.close()
        task.close()  # the engine process does it at the end of a run; a data set too large to cache has workers
    assert status == "completed", name
    seen = list(iter_events(paths.events))
    steps = [e["step"] for e in seen if e["kind"] == "scalar"]
    assert steps and max(steps) == STEPS, name
    evaluated = {e["split"] for e in seen if e["kind"] == "eval"}
    wanted = {s["name"] for s in cfg["eval"]["val_sets"] + cfg["eval"]["test_sets"]}
    assert wanted <= evaluated, (name, wanted, evaluated)
