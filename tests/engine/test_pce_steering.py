"""A backbone's own options are steered like any key: `set model.backbone.router=cosine` mid-run, checked by the
backbone (a bad router is rejected naming the allowed ones), and written in schedule.changes."""

from __future__ import annotations

from pathlib import Path

from engine.core.config import resolve_config
from engine.core.protocol import (
    ControlReader,
    EventWriter,
    create_run,
    iter_events,
    new_run_info,
    send_control,
    write_json_atomic,
)
from engine.runtime import make_runtime, seed_everything
from engine.steering import Steering
from engine.tasks import TASKS
from engine.trainer import Trainer
from tests.engine.seg_cls_data import cls_overrides, tiny_cls  # noqa: F401


def test_router_and_expert_steered_by_set_and_by_schedule(tiny_cls: Path, tmp_path: Path) -> None:
    cfg = resolve_config(
        "pce_demo",
        [
            *(o for o in cls_overrides(tiny_cls, 3) if not o.startswith("model.backbone.width=")),
            "model.backbone.widths=[8,8]",
            "model.backbone.stem_channels=8",
            "schedule.changes=[{at_step: 2, set: {model.backbone.expert.1: 'off'}}]",
        ],
    )
    paths = create_run(tmp_path / "runs", "pce")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "pce", "classification", [], max_steps=3))
    send_control(paths.control, "set", {"model.backbone.router": "cosin"})
    send_control(paths.control, "set", {"model.backbone.router": "cosine"})
    runtime = make_runtime(cfg["device"])
    task = TASKS.build("classification", cfg, runtime, seed_everything(0))
    events = EventWriter(paths.events)
    trainer = Trainer(paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events))
    assert trainer.train() == "completed"
    events.close()
    answers = [e for e in iter_events(paths.events) if e["kind"] == "control"]
    assert answers[0]["status"] == "rejected" and "model.backbone.router" in answers[0]["reason"]
    assert "cosine" in answers[0]["reason"]  # the allowed routers are named
    assert answers[1]["status"] == "applied" and answers[1]["values"] == {"model.backbone.router": "cosine"}
    assert answers[2].get("scheduled") and answers[2]["status"] == "applied"
    backbone = task.modules()["backbone"]
    assert backbone.router_name == "cosine" and not bool(backbone.active_experts[1])
    assert trainer.model_options == {"model.backbone.router": "cosine", "model.backbone.expert.1": "off"}
