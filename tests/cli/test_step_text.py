"""ls and show: a run's progress as step/max, or the step alone when the run has no step count."""

from __future__ import annotations

from tui.cli.listing_cmds import step_text


def test_step_alone_without_a_step_count() -> None:
    assert step_text({"step": 120, "max_steps": 1000}) == "120/1000"
    assert step_text({"step": 120, "max_steps": 0}) == "120"  # a script run through the API, still going
    assert step_text({}) == "0"
