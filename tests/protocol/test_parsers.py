"""Watch parsers (presets/parsers) on single lines in each project's real format, checked against their sources:
YOLOX trainer.after_iter and pycocotools' summarize, mmengine's log_processor, Lightning's TQDMProgressBar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.core.errors import UserError
from engine.core.watch import AutoParser, command_args, default_name, load_parser, make_parser, parser_names
from engine.core.watch import parsers as parsers_module

YOLOX_LINE = (
    "2024-05-01 10:00:00 | INFO     | yolox.core.trainer:261 - epoch: 2/300, iter: 10/7393, gpu mem: 4563Mb, "
    "mem: 12.3Gb, iter_time: 0.594s, data_time: 0.002s, total_loss: 17.5, iou_loss: 4.6, l1_loss: 0.0, "
    "conf_loss: 10.2, cls_loss: 2.7, lr: 1.829e-09, size: 640, ETA: 1 day, 2:03:04"
)
COCO = [
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.345",
    " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.532",
    " Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = 0.371",
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = -1.000",
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = 0.390",
    " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.290",
]


@pytest.fixture(scope="module", autouse=True)
def no_user_presets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Only the shipped parsers: a tester's own presets/parsers must not change which one `auto` picks."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LABCONSOLE_USER_PRESETS", str(tmp_path_factory.mktemp("user-presets")))
        yield


def test_yolox_training_line_gives_losses_lr_and_progress() -> None:
    [reading] = load_parser("yolox").feed(YOLOX_LINE)
    assert reading.step == 7393 + 10  # (epoch-1)·iters + iter
    assert reading.scalars == {
        "loss/total": 17.5,
        "loss/iou": 4.6,
        "loss/l1": 0.0,
        "loss/conf": 10.2,
        "loss/cls": 2.7,
        "lr/all": 1.829e-09,
    }
    assert reading.max_steps == 300 * 7393 and reading.epoch == pytest.approx(1 + 10 / 7393)
    older = "epoch: 1/300, iter: 10/7393, mem: 4563Mb, iter_time: 0.594s, total_loss: 17.5, lr: 1.000e-03, size: 640"
    assert load_parser("yolox").feed(older)[0].scalars == {"loss/total": 17.5, "lr/all": 1e-3}


def test_yolox_coco_summary_is_one_eval_in_percent_at_the_last_training_step() -> None:
    parser = load_parser("yolox")
    parser.feed(YOLOX_LINE)
    assert [r for line in COCO for r in parser.feed(line)] == []  # gathered
    assert parser.feed("per class AP:") == []
    parser.feed("| class   | AP     | class   | AP     |")
    parser.feed("|:--------|:-------|:--------|:-------|")
    parser.feed("| car     | 45.123 | person  | 30.456 |")
    [reading] = parser.feed(YOLOX_LINE.replace("iter: 10/", "iter: 20/"))[:1]
    assert reading.step == 7403 and not reading.scalars
    assert reading.evals == {
        "val": {
            "mAP": 34.5,
            "mAP50": 53.2,
            "mAP75": 37.1,
            "mAP_medium": 39.0,
            "AR1": 29.0,
            "AP/car": 45.123,
            "AP/person": 30.456,
        }
    }


def test_a_quiet_eval_block_is_recorded_after_the_idle_time_or_at_the_end() -> None:
    parser = load_parser("yolox")
    parser.feed(COCO[0])
    assert parser.tick(now=0.0) == []
    [reading] = parser.tick(now=1e12)
    assert reading.evals == {"val": {"mAP": 34.5}}
    parser.feed(COCO[1])
    assert parser.finish()[0].evals == {"val": {"mAP50": 53.2}}


def test_mmengine_train_val_and_iteration_lines() -> None:
    parser = load_parser("mmengine")
    [train] = parser.feed(
        "12/06 16:00:00 - mmengine - INFO - Epoch(train)  [2][ 50/7330]  base_lr: 2.0000e-02 lr: 2.0000e-02  "
        "eta: 1 day, 2:03:04  time: 0.4210  data_time: 0.0120  memory: 3845  grad_norm: 5.1000  loss: 1.2034  "
        "loss_cls: 0.5120  loss_bbox: 0.3300"
    )
    assert train.step == 7330 + 50
    assert train.scalars == {
        "lr/all": 0.02,
        "grad_norm": 5.1,
        "loss/total": 1.2034,
        "loss/cls": 0.512,
        "loss/bbox": 0.33,
    }
    assert (
        parser.feed(
            "Epoch(val)  [2][ 50/5000]    eta: 0:03:00  time: 0.0500  data_time: 0.0020  memory: 1000"
        )
        == []
    )
    [val] = parser.feed(
        "Epoch(val) [2][5000/5000]    coco/bbox_mAP: 0.3740  coco/bbox_mAP_50: 0.5810  coco/bbox_mAP_s: 0.2110  "
        "data_time: 0.0020  time: 0.0510"
    )
    assert val.step == 7380 and val.evals == {"val": {"mAP": 37.4, "mAP50": 58.1, "mAP_small": 21.1}}
    seg = load_parser("mmengine")
    [it] = seg.feed(
        "Iter(train) [  50/80000]  lr: 1.0000e-02  eta: 5:00:00  loss: 1.9630  decode.loss_ce: 1.9630"
    )
    assert (it.step, it.max_steps, it.scalars) == (
        50,
        80000,
        {"lr/all": 0.01, "loss/total": 1.963, "loss/ce": 1.963},
    )
    [miou] = seg.feed(
        "Iter(val) [500/500]    aAcc: 95.1000  mIoU: 74.3000  mAcc: 82.1000  data_time: 0.0050  time: 0.2"
    )
    assert miou.evals == {"val": {"aAcc": 95.1, "mIoU": 74.3, "mAcc": 82.1}}  # mmseg's are percent already


def test_lightning_bar_redraws_become_steps_and_its_val_metrics_an_eval_when_they_change() -> None:
    parser = load_parser("lightning")
    bar = "Epoch 1/9:  45%|████▌     | 45/100 [00:05<00:06,  8.12it/s, v_num=0, train_loss=0.345, val_acc=0.910]"
    [first] = parser.feed(bar)
    assert (first.step, first.max_steps, first.epoch) == (145, 1000, 1.45)
    assert first.scalars == {"loss/total": 0.345} and first.evals == {"val": {"acc": 0.91}}
    [again] = parser.feed(bar)  # redrawn with nothing new
    assert not again.scalars and not again.evals
    [later] = parser.feed(bar.replace("45/100", "46/100").replace("0.345", "0.340"))
    assert later.step == 146 and later.scalars == {"loss/total": 0.34} and not later.evals


def test_keyvalue_lines_with_a_step_key_or_a_line_counter() -> None:
    parser = load_parser("keyvalue")
    [reading] = parser.feed("epoch=1 step=120 loss=0.412 lr=1e-3 time: 0.5")
    assert (
        reading.step == 120
        and reading.epoch == 1.0
        and reading.scalars == {"loss/total": 0.412, "lr/all": 1e-3}
    )
    [val] = parser.feed("step: 120  val_acc: 91.2  test/mIoU: 70")
    assert val.evals == {"val": {"acc": 91.2}, "test": {"mIoU": 70.0}}
    counted = load_parser("keyvalue")
    assert [r.step for line in ("loss=0.5", "no numbers here", "loss=0.4") for r in counted.feed(line)] == [
        1,
        2,
    ]


def test_auto_picks_the_preset_whose_lines_come_and_falls_back_to_keyvalue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auto = make_parser("auto")
    assert isinstance(auto, AutoParser) and auto.feed("Loading annotations into memory...") == []
    [reading] = auto.feed(YOLOX_LINE)  # holds key: value pairs, yet is YOLOX's
    assert auto.name == "yolox" and auto.task == "detection" and reading.scalars["loss/iou"] == 4.6
    monkeypatch.setattr(parsers_module, "AUTO_LOOKAHEAD_LINES", 2)
    plain = make_parser("auto")
    assert plain.feed("starting up, acc = 1") == []
    assert [r.scalars for r in plain.feed("loss = 0.5")] == [{"acc": 1.0}, {"loss/total": 0.5}]
    assert plain.name == "keyvalue"


def test_parser_names_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parser_names() == ["auto", "keyvalue", "lightning", "mmengine", "yolox"]
    with pytest.raises(UserError, match=r"unknown parser 'yolo5' .*allowed: auto, keyvalue"):
        load_parser("yolo5")
    (tmp_path / "parsers").mkdir()
    (tmp_path / "parsers" / "mine.yaml").write_text("rules:\n  - pattern: '(unclosed'\n")
    monkeypatch.setenv("LABCONSOLE_USER_PRESETS", str(tmp_path))
    with pytest.raises(
        UserError, match=r"parser mine: rules\[0\]\.pattern is not a valid regular expression"
    ):
        load_parser("mine")


def test_command_arguments_become_config_keys_and_the_script_names_the_run() -> None:
    args = [
        "tools/train.py",
        "-f",
        "exps/yolox_l.py",
        "-d",
        "1",
        "-b",
        "8",
        "--fp16",
        "--lr=0.01",
        "-o",
        "x=-1",
    ]
    assert command_args(args) == {
        "f": "exps/yolox_l.py",
        "d": 1,
        "b": 8,
        "fp16": True,
        "lr": 0.01,
        "o": True,
        "x": -1,
    }
    assert default_name(["python", "tools/train.py", "-b", "8"]) == "train"
    assert default_name(["./run_all"]) == "run_all"
