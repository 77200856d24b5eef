"""Detection in-process: a tiny FCOS trains on synthetic street scenes, logs each loss component, reports COCO
mAP per set, draws its figure, and takes steered augmentation probabilities; config mistakes name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.config import resolve_config
from engine.core.errors import ConfigError
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
from engine.tasks.check_summary import model_summary
from engine.trainer import Trainer
from tests.engine.seg_cls_data import tiny_det  # noqa: F401


def _config(root: Path, *extra: str, steps: int = 3) -> dict:
    return resolve_config(
        "det_demo",
        [
            f"data.root={root}",
            "data.synthetic=false",
            f"train.max_steps={steps}",
            "train.batch_size=4",
            "train.log_every=1",
            "train.eval_every=0",
            "model.backbone.width=8",
            "model.head.fpn_channels=32",
            "model.image_size=[64,96]",
            "eval.batch_size=8",
            "device.threads=1",
            *extra,
        ],
    )


def _train(cfg: dict, tmp_path: Path, before: list[dict] | None = None) -> list[dict]:
    paths = create_run(tmp_path / "runs", "det")
    write_json_atomic(paths.run_json, new_run_info(paths.run_id, "det", "detection", [], max_steps=3))
    for command in before or []:
        send_control(paths.control, "set", command)
    runtime = make_runtime(cfg["device"])
    task = TASKS.build("detection", cfg, runtime, seed_everything(0))
    events = EventWriter(paths.events)
    try:
        status = Trainer(
            paths, cfg, task, runtime, events, Steering(ControlReader(paths.control), events)
        ).train()
    finally:
        events.close()
        task.close()  # its data loading workers (detection images are never cached)
    assert status == "completed"
    return list(iter_events(paths.events))


def test_a_tiny_detector_trains_and_reports_coco_map_per_set(tiny_det: Path, tmp_path: Path) -> None:
    events = _train(_config(tiny_det, "augment=det_yolox"), tmp_path, before=[{"augment.mosaic_prob": 0.25}])
    scalars = [e["values"] for e in events if e["kind"] == "scalar"]
    assert {"loss/total", "loss/cls", "loss/box", "loss/centerness"} <= set(scalars[0])
    final = [e for e in events if e["kind"] == "eval"][-2:]
    assert [e["split"] for e in final] == ["val", "dusk"]
    assert {"mAP", "mAP50", "mAP75", "AP/car"} <= set(final[0]["metrics"])
    assert final[0]["fingerprint"]["score_threshold"] == 0.05
    answers = [e for e in events if e["kind"] == "control" and e.get("status") == "applied"]
    assert answers and answers[0]["values"] == {"augment.mosaic_prob": 0.25}
    assert any(e["kind"] == "image" and "detections" in e["path"] for e in events)


def test_summary_and_mistakes(tiny_det: Path) -> None:
    summary = model_summary(_config(tiny_det))
    assert "FCOS" in summary["output"] and summary["classes"] == ["car", "person", "sign"]
    with pytest.raises(ConfigError, match="loss: detector"):
        TASKS.build(
            "detection", _config(tiny_det, "loss=ce"), make_runtime({"name": "cpu", "amp": "off"}), None
        )
    with pytest.raises(ConfigError, match="cannot move boxes"):
        TASKS.build(
            "detection",
            _config(tiny_det, "augment=seg_basic"),
            make_runtime({"name": "cpu", "amp": "off"}),
            None,
        )
