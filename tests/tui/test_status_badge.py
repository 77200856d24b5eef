"""Every status reads without colour (a glyph of its own) and has a colour of its own meaning."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from tui.widgets.status_badge import GLYPHS, PALETTES, STATUS_WIDTH, status_text

STATUSES = ("queued", "paused", "completed", "failed", "stopped", "interrupted", "damaged")


@pytest.mark.parametrize("dark", [True, False])
def test_paused_has_its_own_glyph_and_colour(dark: bool) -> None:
    assert status_text("paused", 0.0, dark).plain == "‖ paused"
    assert len({GLYPHS[s] for s in STATUSES}) == len(STATUSES)
    colours = PALETTES[dark]
    assert colours["paused"] not in {colours[s] for s in STATUSES if s != "paused"}


def test_every_badge_fits_the_status_column() -> None:
    assert all(cell_len(status_text(s, 0.0).plain) <= STATUS_WIDTH for s in (*STATUSES, "running"))
