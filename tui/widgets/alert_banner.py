"""Alert banner: a run's most severe current alert (NaN/Inf, divergence, stall, dead process), else hidden."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.data.run_snapshot import Alert

TITLES = {
    "nan": "NaN/Inf",
    "diverge": "diverging",
    "stall": "stalled",
    "dead": "engine dead",
    "oom": "out of memory",
}
"""Short names of alert codes."""


class AlertBanner(Static):
    """Shows the first (most severe) alert with its detail lines and how many others there are."""

    max_detail: reactive[int] = reactive(5)
    """Detail lines shown under the alert (the monitor lowers it on small terminals)."""

    DEFAULT_CSS = """
    AlertBanner { display: none; height: auto; max-height: 8; padding: 0 1; }
    AlertBanner.-shown { display: block; }
    AlertBanner.-error { background: $error 30%; border-left: thick $error; }
    AlertBanner.-warning { background: $warning 25%; border-left: thick $warning; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._alerts: tuple[Alert, ...] = ()

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """The alerts shown (most severe first)."""
        return self._alerts

    def show(self, alerts: Sequence[Alert]) -> None:
        """Display `alerts` (an empty list hides the banner)."""
        alerts = tuple(sorted(alerts, key=lambda a: a.level != "error"))
        if alerts == self._alerts:
            return
        self._alerts = alerts
        self.set_class(bool(alerts), "-shown")
        self.set_class(bool(alerts) and alerts[0].level == "error", "-error")
        self.set_class(bool(alerts) and alerts[0].level != "error", "-warning")
        if alerts:
            self.update(self._alert_text(alerts))

    def watch_max_detail(self) -> None:
        """Redraw with more or fewer detail lines."""
        if self._alerts:
            self.update(self._alert_text(self._alerts))

    def _alert_text(self, alerts: tuple[Alert, ...]) -> Text:
        """'✗ NaN/Inf  loss/total became NaN at step 1,200   (+1 more: stalled)' and detail lines."""
        first = alerts[0]
        glyph = "✗" if first.level == "error" else "▲"
        text = Text.assemble((f"{glyph} {TITLES.get(first.code, first.code)}", "bold"), "  ", first.message)
        if len(alerts) > 1:
            others = ", ".join(TITLES.get(a.code, a.code) for a in alerts[1:])
            text.append(f"   (+{len(alerts) - 1} more: {others})", style="dim")
        for line in first.detail[-self.max_detail :] if self.max_detail else ():
            text.append("\n  │ ", style="dim")
            text.append(line, style="italic")
        return text
