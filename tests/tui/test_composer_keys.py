"""The composer is fast to drive: section keys, ctrl+↓/↑, type-to-search pickers; six slots in tens of keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Select

from tests.tui.fixtures import wait_for
from tests.tui.test_composer import ComposerApp, row, settle
from tui.screens.composer import SECTION_KEYS, ComposerScreen
from tui.widgets.composer_rail import SectionRail

SIX_SLOTS = {
    "backbone": ("convnext_tiny", "con"),
    "aggregator": ("netvlad", "net"),
    "loss": ("cosface", "cos"),
    "schedule": ("warmcos", "warm"),
    "freeze": ("frozen_backbone", "fro"),
    "device": ("auto", "au"),
}
"""A realistic edit of the demo: slot -> (preset wanted, what is typed to find it in the picker)."""

KEY_BUDGET = 40
"""Most keys the six changes may take (the composer before section jumps took 119)."""


class KeyCounter:
    """Presses real keys through the Pilot and counts them."""

    def __init__(self, pilot: Pilot[Any]) -> None:
        self.pilot = pilot
        self.count = 0

    async def press(self, *keys: str) -> None:
        for key in keys:
            self.count += 1
            await self.pilot.press(key)
            await self.pilot.pause()


async def test_six_slots_take_tens_of_keys(tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        keys = KeyCounter(pilot)
        for slot, (preset, typed) in SIX_SLOTS.items():
            await keys.press(SECTION_KEYS[slot], "enter", *typed, "enter")
            assert row(pilot, slot).query_one(".slot-select", Select).value == preset, slot
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ComposerScreen) and screen.validation.ok, screen.validation.problem
        cfg = screen.validation.cfg
        assert cfg is not None
        assert cfg["model"]["backbone"]["name"] == "convnext_tiny"
        assert cfg["model"]["aggregator"]["name"] == "netvlad"
        assert (cfg["loss"]["name"], cfg["schedule"]["name"]) == ("cosface", "warmcos")
        assert (cfg["freeze"]["name"], cfg["device"]["name"]) == ("frozen_backbone", "auto")
        print(f"six composer slots changed in {keys.count} keys")
        assert keys.count <= KEY_BUDGET


async def test_section_keys_and_ctrl_arrows_move_between_sections(tmp_path: Path) -> None:
    app = ComposerApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        rail = app.screen.query_one(SectionRail)
        await pilot.press("l")
        assert app.focused is row(pilot, "loss").query_one(".slot-select", Select)
        await wait_for(pilot, lambda: rail.current == "loss")
        await pilot.press("ctrl+down")
        assert app.focused is row(pilot, "optim").query_one(".slot-select", Select)
        await pilot.press("ctrl+up", "ctrl+up")
        assert app.focused is row(pilot, "head").query_one(".slot-select", Select)
        await pilot.press("t")  # a row of fields: its first field
        assert app.focused is not None and getattr(app.focused, "path", "") == "train.max_steps"
        await pilot.press("5", "0", "0")  # inside a field keys type (over the selected text), never jump
        assert getattr(app.focused, "value", "") == "500"
        await pilot.press("ctrl+down")
        assert app.focused is row(pilot, "task").query_one(".slot-select", Select)
