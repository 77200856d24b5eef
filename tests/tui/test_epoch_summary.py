"""Loss first epoch → last epoch: synthetic series with known answers, each way of telling epochs, the fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tui.data.compare_runs import CompareRun, loss_change_rows
from tui.data.epoch_summary import EpochSummary, LossChange, epoch_summary, fmt_change, loss_keys

STEPS = np.arange(1, 21, dtype=float)  # 20 steps, 10 per epoch


def _two_epochs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Constant within each epoch: total 4 → 3 (-25 %), cls 2 → 1 (-50 %), l1 0 → 0 (no change)."""
    first = STEPS <= 10
    return {
        "lr/all": (STEPS, np.full(20, 0.01)),
        "loss/cls": (STEPS, np.where(first, 2.0, 1.0)),
        "loss/total": (STEPS, np.where(first, 4.0, 3.0)),
        "loss/l1": (STEPS, np.zeros(20)),
    }


def _check_two_epochs(summary: EpochSummary | None) -> None:
    assert summary is not None and summary.by_epoch
    assert (summary.span, summary.first_label, summary.last_label) == ("epoch 1 → 2", "epoch 1", "epoch 2")
    assert [loss.name for loss in summary.losses] == ["total", "cls", "l1"]  # the total first, then as logged
    total, cls, l1 = summary.losses
    assert (total.first, total.last, total.change_pct) == (4.0, 3.0, -25.0)
    assert (cls.first, cls.last, cls.change_pct) == (2.0, 1.0, -50.0)
    assert (l1.first, l1.last, l1.change_pct) == (0.0, 0.0, 0.0)


def test_epochs_from_run_json_progress() -> None:
    _check_two_epochs(epoch_summary(_two_epochs(), {"progress": {"step": 20, "epoch": 2.0}}))


def test_epochs_from_epoch_units_when_progress_has_no_epoch() -> None:
    info = {"progress": {"step": 20, "epoch": 0}, "epoch_units": {"steps_per_epoch": 10.0}}
    _check_two_epochs(epoch_summary(_two_epochs(), info))


@pytest.mark.parametrize("counter", [np.where(STEPS <= 10, 1, 2), np.where(STEPS <= 10, 0, 1), STEPS / 10])
def test_epochs_from_the_runs_epoch_scalar(counter: np.ndarray) -> None:
    """An epoch counter from 1 (YOLOX) or from 0 (Lightning), or passes; it wins over run.json."""
    scalars = {**_two_epochs(), "epoch": (STEPS, counter.astype(float))}
    _check_two_epochs(epoch_summary(scalars, {"status": "completed", "progress": {"step": 20, "epoch": 9.0}}))


def test_last_complete_epoch_and_last_so_far() -> None:
    steps = np.arange(1, 36, dtype=float)  # 3.5 epochs of 10 steps, each epoch a constant
    scalars = {"loss/total": (steps, np.ceil(steps / 10))}
    by_passes = epoch_summary(scalars, {"progress": {"step": 35, "epoch": 3.5}})
    assert by_passes is not None and (by_passes.span, by_passes.losses[0].last) == ("epoch 1 → 3", 3.0)
    running = {"status": "running"}
    counted = epoch_summary({**scalars, "epoch": (steps, np.ceil(steps / 10))}, running)
    assert counted is not None and counted.span == "epoch 1 → 3"  # epoch 4 is under way
    two = epoch_summary({"loss/total": (STEPS, STEPS), "epoch": (STEPS, np.ceil(STEPS / 10))}, running)
    assert two is not None and (two.span, two.last_label) == ("epoch 1 → 2 (so far)", "epoch 2 (so far)")


def test_short_run_reads_the_first_and_last_tenth_of_its_points() -> None:
    steps = np.arange(1, 31, dtype=float)  # 1.5 epochs of 20 steps
    values = np.arange(30, 0, -1, dtype=float) * 2  # 60, 58, …, 2: 10 % of 30 points = 3 points
    summary = epoch_summary({"loss/ce": (steps, values)}, {"progress": {"step": 30, "epoch": 1.5}})
    assert summary is not None and not summary.by_epoch
    assert summary.span == "first 10 % → last 10 %"
    assert (summary.losses[0].first, summary.losses[0].last) == (58.0, 4.0)
    assert summary.losses[0].change_pct == pytest.approx(100 * (4 - 58) / 58)
    unknown = epoch_summary({"loss/ce": (steps, values)}, {})  # nothing tells the epochs
    assert unknown is not None and unknown.span == "first 10 % → last 10 %"
    few = epoch_summary({"loss/ce": (steps[:19], values[:19])}, {})  # a tenth of 19 points is one batch
    assert few is None


def test_no_loss_no_summary_and_formats() -> None:
    assert epoch_summary({"lr/all": (STEPS, STEPS)}, {}) is None
    assert loss_keys({"loss/b": (STEPS, STEPS), "loss/a": (STEPS, STEPS)}) == ["loss/b", "loss/a"]
    assert (fmt_change(-28.31), fmt_change(4.0), fmt_change(None)) == ("-28.3%", "+4.0%", "-")


def test_non_finite_points_are_left_out() -> None:
    scalars = _two_epochs()
    values = scalars["loss/total"][1].copy()
    values[[3, 15]] = [np.nan, np.inf]
    scalars["loss/total"] = (STEPS, values)
    _check_two_epochs(epoch_summary(scalars, {"progress": {"step": 20, "epoch": 2.0}}))


def test_compare_rows_say_which_epochs_each_run_read(tmp_path: Path) -> None:
    two = CompareRun(tmp_path / "a", {"progress": {"step": 20, "epoch": 2.0}}, {}, scalars=_two_epochs())
    three_steps = np.arange(1, 31, dtype=float)
    three = CompareRun(
        tmp_path / "b",
        {"progress": {"step": 30, "epoch": 3.0}},
        {},
        scalars={"loss/total": (three_steps, 10 - np.ceil(three_steps / 10))},  # 9, 8, 7
    )
    rows = {row.label: row for row in loss_change_rows([two, three, CompareRun(tmp_path / "c", {}, {})])}
    assert list(rows) == [
        "loss epochs",
        "loss/total epoch 1 → last",
        "loss/cls epoch 1 → last",
        "loss/l1 epoch 1 → last",
    ]
    assert rows["loss epochs"].texts == ["epoch 1 → 2", "epoch 1 → 3", "-"]
    total = rows["loss/total epoch 1 → last"]
    assert total.texts == ["-25.0% (4 → 3)", "-22.2% (9 → 7)", "-"]
    assert total.values == [-25.0, pytest.approx(-200 / 9), None] and total.better == 0
    assert rows["loss/l1 epoch 1 → last"].texts == ["+0.0% (0 → 0)", "-", "-"]
    same = loss_change_rows([two, two])
    assert same[0].label == "loss/total epoch 1 → 2"  # one span: in the label, no extra row


def test_change_from_zero_has_no_percent() -> None:
    assert LossChange("loss/l1", 0.0, 0.5).change_pct is None


def test_log_004_reductions() -> None:
    """YOLOX-L, 30 epochs of 666 iterations logged every 10: 6.99 = 2.52 + 0 + 3.19 + 1.29 → 5.01 = 2.02 + 0 +
    2.26 + 0.74, '-28.3 % total, -42.6 % class loss' as the log writes."""
    steps = np.arange(10, 30 * 666 + 1, 10, dtype=float)
    epoch = np.ceil(steps / 666)
    first, last = np.array([6.99, 2.52, 0.0, 3.19, 1.29]), np.array([5.01, 2.02, 0.0, 2.26, 0.74])
    names = ["total", "iou", "l1", "conf", "cls"]
    share = (epoch - 1) / 29  # each epoch a constant between the two rows
    scalars = {f"loss/{n}": (steps, first[i] + share * (last[i] - first[i])) for i, n in enumerate(names)}
    summary = epoch_summary(scalars, {"progress": {"step": 30 * 666, "epoch": 30.0}})
    assert summary is not None and summary.span == "epoch 1 → 30"
    changes = {loss.name: fmt_change(loss.change_pct) for loss in summary.losses}
    assert changes == {"total": "-28.3%", "iou": "-19.8%", "l1": "+0.0%", "conf": "-29.2%", "cls": "-42.6%"}
