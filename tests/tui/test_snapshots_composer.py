"""Composer snapshot: DINOv2 + GeM + 512-d projector, a CosFace + multi-similarity mix, parameter table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Static

from tests.tui.fixtures import wait_for
from tests.tui.test_composer import CANNED_MODEL, ComposerApp, compose_dinov2_mix, rendered
from tui.data import check_runner
from tui.data.check_runner import CheckResult
from tui.widgets.composer_params import ParamTable

BASE = Path(__file__).parent / "configs" / "composer_base.yaml"


async def composed_with_params(pilot: Pilot[Any]) -> None:
    """Compose the DINOv2 mix, show the loss row, count parameters (canned), focus the Launch button."""
    await compose_dinov2_mix(pilot)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()  # rows mounted by the changes above take their height first
    pilot.app.screen.query_one("#row-loss").scroll_visible(animate=False, top=True)
    await pilot.pause()
    pilot.app.screen.query_one("#composer-launch", Button).focus()
    await pilot.press("p")
    body = pilot.app.screen.query_one(ParamTable).query_one(".params-body", Static)
    await wait_for(pilot, lambda: "descriptor 512-d" in rendered(body))


def test_composer_dinov2_mix_params_120x32(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_runner, "run_check", lambda config: CheckResult(data={"model": CANNED_MODEL}))
    app = ComposerApp(tmp_path / "runs", BASE)
    assert snap_compare(app, terminal_size=(120, 32), run_before=composed_with_params)


async def freeze_phases_narrow(pilot: Pilot[Any]) -> None:
    """Progressive freeze picked, then `f` jumps to its phase rows (the rail marks the section); warnings below."""
    from tests.tui.test_composer import pick, settle

    await pick(pilot, "freeze", "progressive")
    await settle(pilot)
    await pilot.press("f")
    await pilot.pause()


def test_composer_freeze_phases_80x24(snap_compare: Any, tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs", BASE)
    assert snap_compare(app, terminal_size=(80, 24), run_before=freeze_phases_narrow)
