"""The composer's LR plot: learning rate over the whole run from the schedule (torch-free) times optim.lr."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from tui.widgets.curves import fmt_steps, fmt_value

LR_COLOUR = (86, 180, 233)
"""The LR line (the first colour of the monitor's palette)."""


class LRPlot(PlotextPlot):
    """A small braille plot of LR against step; `show_curve([])` clears it."""

    DEFAULT_CSS = """
    LRPlot { height: 7; width: 1fr; }
    """

    def show_curve(self, points: list[tuple[int, float]]) -> None:
        """Replot the LR curve."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.frame(False)
        if len(points) > 1:
            xs, ys = [float(p[0]) for p in points], [p[1] for p in points]
            plt.plot(xs, ys, color=LR_COLOUR, marker="braille")
            plt.xticks([xs[0], xs[-1]], [fmt_steps(xs[0]), fmt_steps(xs[-1])])
            ticks = sorted({min(ys), max(ys)})
            plt.yticks(ticks, [fmt_value(v) for v in ticks])
        self.refresh()
