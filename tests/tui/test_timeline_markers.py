"""Timeline markers: evaluations (one per step), pauses and resumes; re-evaluations after training make none."""

from __future__ import annotations

from tui.data.run_snapshot import Marker, mark_timeline


def test_evaluations_at_one_step_share_a_marker_and_reevaluations_make_none() -> None:
    markers: list[Marker] = []
    mark_timeline(markers, "eval", 100, {"split": "val"})
    mark_timeline(markers, "eval", 100, {"split": "tokyo"})
    mark_timeline(markers, "eval", 100, {"split": "val", "reeval": True})
    mark_timeline(markers, "status", 150, {"status": "paused"})
    mark_timeline(markers, "status", 150, {"status": "running"})
    assert markers == [
        Marker(100, "eval", "eval val, tokyo"),
        Marker(150, "pause", "paused"),
        Marker(150, "resume", "resumed"),
    ]
