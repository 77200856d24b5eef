"""What a run ran on, in the monitor: provenance (code, versions, host, command, weights), checkpoints kept and
re-evaluations, read from its run.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.core.protocol import RunPaths
from engine.core.protocol.listing import read_run_info
from engine.core.provenance import provenance_lines


def run_info_text(info: dict[str, Any]) -> Text:
    """The provenance lines, then kept checkpoints and re-evaluations when there are any."""
    text = Text()
    provenance = info.get("provenance")
    text.append("Provenance\n", style="bold")
    if isinstance(provenance, dict):
        for line in provenance_lines(provenance):
            text.append(f"  {line}\n")
    else:
        text.append("  not recorded (a run made before labconsole recorded provenance)\n", style="dim")
    if info.get("rerun_of"):
        text.append(f"  rerun of {info['rerun_of']}\n")
    kept = [c for c in info.get("checkpoints_kept") or [] if isinstance(c, dict)]
    if kept:
        text.append("\nCheckpoints kept\n", style="bold")
        for item in kept:
            size = item.get("bytes")
            mb = f"  {size / 2**20:,.1f} MB" if isinstance(size, (int, float)) else ""
            text.append(f"  step {item.get('step')}  {item.get('path')}{mb}\n")
    evaluations = [e for e in info.get("reevaluations") or [] if isinstance(e, dict)]
    if evaluations:
        text.append("\nRe-evaluations\n", style="bold")
        for item in evaluations:
            found = item.get("metrics")
            metrics: dict[str, Any] = found if isinstance(found, dict) else {}
            shown = "  ".join(
                f"{k} {v:.2f}" for k, v in list(metrics.items())[:4] if isinstance(v, (int, float))
            )
            text.append(
                f"  {item.get('checkpoint')} (step {item.get('step')}) on {item.get('split')}: {shown}\n"
            )
    return text


class RunInfoScreen(ModalScreen[None]):
    """A run's provenance and stored checkpoints; escape or I closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,I,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    RunInfoScreen { align: center middle; }
    RunInfoScreen > VerticalScroll {
        width: 90%; max-width: 140; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.paths = RunPaths(Path(run_dir))

    def compose(self) -> ComposeResult:
        """The lines, scrollable when long."""
        info = read_run_info(self.paths.root) or {}
        with VerticalScroll() as scroll:
            scroll.border_title = f"{info.get('name') or self.paths.run_id} · what it ran on"
            yield Static(run_info_text(info), id="run-info")
