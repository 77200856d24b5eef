"""The composer's parameter table: params / trainable / frozen per module group in every freeze phase."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import LoadingIndicator, Static

HINT = "Press p to count parameters (builds the model in a subprocess; no weights are downloaded)."
"""What the table shows before the first check."""


def fmt_params(n: int) -> str:
    """A parameter count in at most 7 characters: 1, 262.7k, 11.18M."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1e3:.1f}k"
    return f"{n / 1e6:.2f}M"


def phase_rows(phase: dict[str, Any]) -> list[dict[str, Any]]:
    """The phase's group rows; backbone stages too (dim, indented) when the backbone is partly trainable."""
    rows = list(phase.get("rows", []))
    backbone = next((r for r in rows if r.get("group") == "backbone"), None)
    if backbone and 0 < backbone["trainable"] < backbone["params"]:
        index = rows.index(backbone) + 1
        rows[index:index] = [{**s, "stage": True} for s in phase.get("stages", [])]
    return rows


def phase_table(phase: dict[str, Any]) -> Table:
    """One freeze phase as a small table; its title says from which step it applies."""
    note = "" if phase.get("in_run", True) else " (after max_steps)"
    title = f"phase {phase.get('index', 0)} · step {phase.get('step', 0)} · {phase.get('label', '')}{note}"
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=None,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
        header_style="dim",
        expand=False,
    )
    for name in ("group", "params", "trainable", "frozen"):
        table.add_column(name, justify="left" if name == "group" else "right", no_wrap=True)
    for row in phase_rows(phase):
        style = "dim" if row.get("stage") else "bold" if row["group"] == "total" else ""
        group = "  " + row["group"].split(".", 1)[-1] if row.get("stage") else row["group"]
        frozen = Text(fmt_params(row["frozen"]), style="cyan" if row["frozen"] else "")
        table.add_row(group, fmt_params(row["params"]), fmt_params(row["trainable"]), frozen, style=style)
    return table


def model_summary(model: dict[str, Any]) -> RenderableType:
    """The descriptor line and one table per freeze phase."""
    feature_map = model.get("feature_map")
    parts_of_head = [
        ("descriptor", f"{model.get('descriptor_dim', '?')}-d"),
        ("backbone", f"{model.get('backbone_channels', '?')} ch, stride {model.get('backbone_stride', '?')}"),
    ]
    if feature_map:
        parts_of_head.append(("feature map", "×".join(str(n) for n in feature_map)))
    head = Text()
    for index, (name, value) in enumerate(parts_of_head):
        start = len(head)
        head.append(f"{'  ' if index else ''}{name} {value}")
        head.stylize("dim", start, start + len(head.plain) - start - len(value))
    phases = model.get("phases") or [
        {"index": 0, "step": 0, "label": "all", "rows": model.get("parameters", [])}
    ]
    parts: list[RenderableType] = [head]
    for phase in phases:
        parts += [Text(""), phase_table(phase)]
    if not model.get("steps_per_epoch_counted", True):
        steps = model.get("steps_per_epoch", 0)
        note = f"epochs estimated at {steps:.0f} steps (no training folder yet)"
        parts.append(Text(note, style="dim italic"))
    return Group(*parts)


class ParamTable(VerticalScroll):
    """Shows a hint, a loading indicator while the check runs, then the tables or the check's error."""

    DEFAULT_CSS = """
    ParamTable { height: 1fr; scrollbar-size-vertical: 1; }
    ParamTable LoadingIndicator { height: 3; display: none; }
    ParamTable.-loading LoadingIndicator { display: block; }
    ParamTable .params-body.-error { color: $text-error; }
    ParamTable .params-stale { display: none; color: $text-warning; text-style: bold; }
    ParamTable.-stale .params-stale { display: block; }
    ParamTable.-stale .params-body { text-opacity: 50%; }
    """

    def compose(self) -> ComposeResult:
        """The loading indicator and the body."""
        yield Static("stale: the config changed since this count", classes="params-stale")
        yield LoadingIndicator()
        yield Static(Text(HINT, style="dim"), classes="params-body")

    @property
    def stale(self) -> bool:
        """Whether what the table shows is older than the config."""
        return self.has_class("-stale")

    def mark_stale(self, counting: bool = False) -> None:
        """The config changed: the counts shown are old (`counting`: a new count is under way)."""
        self.add_class("-stale")
        note = "stale: recounting after the change…" if counting else "stale: the config changed (p recounts)"
        self.query_one(".params-stale", Static).update(note)

    def show_loading(self) -> None:
        """A check started (over older counts, they stay, marked stale, until it lands)."""
        if self.stale:
            self.mark_stale(counting=True)
            return
        self.add_class("-loading")
        self._body(Text("counting parameters…", style="dim"))

    def show_model(self, model: dict[str, Any]) -> None:
        """A check succeeded: the tables."""
        self.remove_class("-loading", "-stale")
        self._body(model_summary(model))

    def show_error(self, message: str) -> None:
        """A check failed: its one-line error."""
        self.remove_class("-loading", "-stale")
        self._body(Text(f"✗ {message}"), error=True)

    def _body(self, content: RenderableType, error: bool = False) -> None:
        body = self.query_one(".params-body", Static)
        body.set_class(error, "-error")
        body.update(content)
