"""The compare screen's config diff: only the dotted config keys whose values differ, one column per run."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tui.data.compare_runs import MISSING, CompareRun, config_diff, fmt_config_value
from tui.widgets.runs_table import fit

VALUE_WIDTH = 24
"""Cells of one run column."""


class ConfigDiff(DataTable[Text]):
    """Differing config keys; the baseline's column first, values unlike the baseline's highlighted."""

    DEFAULT_CSS = """
    ConfigDiff { height: 1fr; scrollbar-size-vertical: 1; }
    ConfigDiff > .datatable--header { text-style: bold; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=1, **kwargs)
        self.keys_shown: list[str] = []
        """The differing keys, top to bottom."""

    def show(self, runs: list[CompareRun]) -> None:
        """Replace the table with the keys that differ between `runs` (`runs[0]` is the baseline)."""
        diff = config_diff(runs)
        self.keys_shown = [key for key, _ in diff]
        self.clear(columns=True)
        self.add_column(Text("key"), width=max([len(k) for k in self.keys_shown] + [12]), key="key")
        for i, run in enumerate(runs):
            self.add_column(Text(fit(run.name, VALUE_WIDTH)), width=VALUE_WIDTH, key=f"run{i}")
        for key, values in diff:
            self.add_row(Text(key), *(self._cell(v, values[0], i) for i, v in enumerate(values)), key=key)

    @staticmethod
    def _cell(value: Any, base: Any, column: int) -> Text:
        """A value, cut to the column; bold where it differs from the baseline, dim when missing."""
        changed = column > 0 and fmt_config_value(value) != fmt_config_value(base)
        style = "dim" if value is MISSING else "bold" if changed else ""
        return Text(fit(fmt_config_value(value), VALUE_WIDTH), style=style)
