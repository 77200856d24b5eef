"""A run's evaluation figures in the terminal: step through evaluations, switch figures, zoom, follow live.

Each kind of figure (tag · split: VPR retrievals, segmentation overlays, confusion matrices, most confused
pairs) is drawn again at every evaluation; ←/→ walk through the evaluations of the figure shown, ↑/↓ switch
to another kind at the same step. Zoomed in, the arrows pan and [ ] / tab keep stepping and switching. At
the newest evaluation the view follows the run: a new evaluation's figure replaces it when it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from tui.data.run_images import Figure, FigureKind, FigureSet, RunImages, kind_label
from tui.widgets.half_block_image import HalfBlockImage
from tui.widgets.key_bar import KeyBar

POLL_SECONDS = 1.0
"""How often events.jsonl is checked for new figures (one os.stat when nothing changed)."""
FIGURE_ACTIONS = frozenset(
    ("arrow", "step_eval", "switch_figure", "select_kind", "zoom", "fit", "fit_width", "first", "last")
)
"""Actions that need a figure shown."""
EMPTY_MESSAGE = "no figures yet — the engine writes them at each evaluation (eval.figures)"


class ImageViewScreen(Screen[None]):
    """The figures of one run folder, one at a time, with its caption, step and evaluation number."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        Binding("left", "arrow(-1, 0)", "Eval", key_display="←→", tooltip="Previous / next evaluation"),
        Binding("right", "arrow(1, 0)", "Next evaluation", show=False),
        Binding("up", "arrow(0, -1)", "Figure", key_display="↑↓", tooltip="Previous / next kind of figure"),
        Binding("down", "arrow(0, 1)", "Next figure", show=False),
        Binding("left_square_bracket", "step_eval(-1)", "Previous evaluation", show=False),
        Binding("right_square_bracket", "step_eval(1)", "Next evaluation", show=False),
        Binding("tab", "switch_figure(1)", "Next figure", show=False),
        Binding("shift+tab", "switch_figure(-1)", "Previous figure", show=False),
        Binding(
            "plus,equals_sign", "zoom(1)", "Zoom", key_display="+/-", tooltip="Zoom in (arrows then pan)"
        ),
        Binding("minus", "zoom(-1)", "Zoom out", show=False),
        Binding("f", "fit", "Fit", tooltip="Show the whole figure"),
        Binding("w", "fit_width", "Fill width", show=False, tooltip="Fill the width; ↑/↓ then scroll"),
        Binding("home", "first", "First", tooltip="The first evaluation"),
        Binding("end", "last", "Last", tooltip="The newest evaluation, followed live"),
    ]

    DEFAULT_CSS = """
    ImageViewScreen #figure-kinds { height: 1; padding: 0 1; link-style: none; }
    ImageViewScreen #figure-position { height: 1; padding: 0 1; color: $text-muted; }
    ImageViewScreen #figure-caption { height: auto; max-height: 2; padding: 0 1; }
    """

    def __init__(self, run_dir: Path, poll_interval: float = POLL_SECONDS) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.reader = RunImages(self.run_dir)
        """Reads the run's figures incrementally, in a thread (a long run without index takes a while)."""
        self.images = FigureSet()
        """The figures shown: the reader's latest snapshot."""
        self.loaded = False
        """True once events.jsonl has been read to its end."""
        self._reading = False
        self.poll_interval = poll_interval
        self.kind: FigureKind | None = None
        """The kind of figure shown."""
        self.index = 0
        """Which evaluation of that kind is shown (0 = the first)."""
        self.following = True
        """At the newest evaluation: a new one is shown as soon as it arrives."""

    def compose(self) -> ComposeResult:
        yield Static(id="figure-kinds")
        yield Static(id="figure-position")
        yield Static(id="figure-caption")
        yield HalfBlockImage(id="figure")
        yield KeyBar()

    def on_mount(self) -> None:
        self._show(keep_view=False)
        self._poll()
        self.set_interval(self.poll_interval, self._poll)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys about figures are shown dimmed until the run has one."""
        if action in FIGURE_ACTIONS and self.figure is None:
            return None
        return True

    def on_resize(self) -> None:
        self._show_kinds()  # which kinds fit on the line depends on the width

    # -- state -----------------------------------------------------------------------------------------

    @property
    def figures(self) -> tuple[Figure, ...]:
        """Every evaluation's figure of the shown kind."""
        return self.images.figures(self.kind) if self.kind is not None else ()

    @property
    def figure(self) -> Figure | None:
        figures = self.figures
        return figures[self.index] if figures else None

    def _poll(self) -> None:
        """Read new figures in a thread when events.jsonl grew (one os.stat otherwise, no redraw)."""
        if self._reading or (self.loaded and not self.reader.has_news()):
            return
        self._reading = True
        self._read()

    @work(thread=True, group="figures")
    def _read(self) -> None:
        try:
            changed = self.reader.poll()
        except OSError:  # unreadable for now (permissions, a vanished mount): try again at the next poll
            changed = False
        figures = self.reader.snapshot() if changed else None
        with suppress(RuntimeError):  # the console is closing
            self.app.call_from_thread(self._took, figures)

    def _took(self, figures: FigureSet | None) -> None:
        """Show what the reading thread found (None: nothing new)."""
        self._reading = False
        first = not self.loaded
        self.loaded = True
        if not self.is_attached or (figures is None and not first):
            return
        had_figure = self.figure is not None
        if figures is not None:
            self.images = figures
        self._settle()
        if had_figure != (self.figure is not None):
            self.refresh_bindings()
        self._show()
        # a figure rewritten in place (same path, new stamp) is drawn again
        self.query_one(HalfBlockImage).refresh()

    def _settle(self) -> None:
        """Keep the kind and evaluation valid after new figures arrived (following: go to the newest)."""
        kinds = self.images.kinds()
        if self.kind not in kinds:
            self.kind = kinds[0] if kinds else None
        count = len(self.figures)
        self.index = count - 1 if self.following else max(0, min(self.index, count - 1))

    def _go(self, index: int, keep_view: bool = True) -> None:
        count = len(self.figures)
        if not count:
            return
        self.index = max(0, min(count - 1, index))
        self.following = self.index == count - 1
        self._show(keep_view)

    # -- drawing ---------------------------------------------------------------------------------------

    def _show(self, keep_view: bool = True) -> None:
        figure = self.figure
        image = self.query_one(HalfBlockImage)
        image.show(figure.path if figure else None, EMPTY_MESSAGE if self.loaded else "", keep_view=keep_view)
        caption = figure.caption if figure else ""
        self.query_one("#figure-caption", Static).update(Text(caption))
        self._show_kinds()
        self._show_position()

    def _show_kinds(self) -> None:
        """'figures  retrievals · sim2real  overlay · val …', the shown kind highlighted and kept in view."""
        line = self.query_one("#figure-kinds", Static)
        kinds = self.images.kinds()
        title = Text("figures", style="bold")
        if not kinds:
            title.append(f"  {self.run_dir.name}", style="dim")
            line.update(title)
            return
        room = max(20, (line.size.width or self.app.size.width) - 2)
        labels = [f" {kind_label(kind)} " for kind in kinds]
        start = kinds.index(self.kind) if self.kind in kinds else 0
        # drop kinds from the left only as far as needed to keep the shown one on the line
        first = 0
        while first < start and len(title) + 2 + sum(len(lb) + 1 for lb in labels[first : start + 1]) > room:
            first += 1
        text = title + Text("  " if first == 0 else " ‹", style="dim")
        for number, (kind, label) in enumerate(zip(kinds, labels)):
            if number >= first:
                shown = kind == self.kind
                click = {"@click": f"screen.select_kind({number})"}  # a click shows that kind
                text.append(label, style=Style(reverse=shown, bold=shown, meta=click))
                text.append(" ")
        text.truncate(room, overflow="ellipsis")
        line.update(text)

    def _show_position(self) -> None:
        """'eval 3/7 · step 1,500 · newest, following   zoom 2× (arrows pan)'."""
        figures, figure = self.figures, self.figure
        text = Text()
        if figure is not None:
            text.append(f"eval {self.index + 1}/{len(figures)}", style="bold")
            text.append(f" · step {figure.step:,}")
            if self.following:
                text.append(" · newest, following")
            view = self.query_one(HalfBlockImage).view
            text.append("   " + (f"zoom {view.zoom:.2g}× (arrows pan)" if not view.fitted else "fit"))
        skipped = self.images.skipped
        if skipped:
            events = "image event" if len(skipped) == 1 else "image events"
            text.append(f"   {len(skipped)} {events} skipped: {skipped[-1]}", style="bold yellow")
        self.query_one("#figure-position", Static).update(text)

    # -- keys ------------------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_arrow(self, dx: int, dy: int) -> None:
        """Arrows: evaluations (←/→) and figures (↑/↓); zoomed in, they pan."""
        image = self.query_one(HalfBlockImage)
        if not image.view.fitted:
            image.pan(dx, dy)
            self._show_position()
        elif dx:
            self.action_step_eval(dx)
        else:
            self.action_switch_figure(dy)

    def action_step_eval(self, delta: int) -> None:
        self._go(self.index + delta)

    def action_first(self) -> None:
        self._go(0)

    def action_last(self) -> None:
        self._go(len(self.figures) - 1)

    def action_switch_figure(self, delta: int) -> None:
        """The next kind of figure (`delta` 1) or the previous one (-1)."""
        kinds = self.images.kinds()
        if len(kinds) > 1 and self.kind in kinds:
            self.action_select_kind((kinds.index(self.kind) + delta) % len(kinds))

    def action_select_kind(self, number: int) -> None:
        """Show the `number`th kind of figure, at the same step when it has one (else the closest before it)."""
        kinds = self.images.kinds()
        if not 0 <= number < len(kinds) or kinds[number] == self.kind:
            return
        step = self.figure.step if self.figure else None
        self.kind = kinds[number]
        figures = self.figures
        if self.following or step is None:
            index = len(figures) - 1
        else:
            earlier = [i for i, f in enumerate(figures) if f.step <= step]
            index = earlier[-1] if earlier else 0
        self._go(index, keep_view=False)

    def action_zoom(self, steps: int) -> None:
        self.query_one(HalfBlockImage).zoom(steps)
        self._show_position()

    def action_fit(self) -> None:
        self.query_one(HalfBlockImage).fit()
        self._show_position()

    def action_fit_width(self) -> None:
        self.query_one(HalfBlockImage).fit_width()
        self._show_position()

    def palette_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """Entries of the command palette (the app adds each one's key)."""
        return [
            ("Newest figure", "The newest evaluation's figure, followed live", self.action_last),
            ("First figure", "The first evaluation's figure", self.action_first),
            ("Fit figure", "Show the whole figure", self.action_fit),
            (
                "Fill width",
                "Fill the width with the figure; the arrows then scroll it",
                self.action_fit_width,
            ),
            ("Back", "Back to the previous screen", self.action_back),
        ]
