"""System panel: per-GPU memory, utilisation, temperature and power; CPU, memory and data-loader wait with their
history; training throughput and its sparkline."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Resize
from textual.widgets import Sparkline, Static

from tui.data.run_snapshot import THROUGHPUT_WINDOWS, TRAIN_THROUGHPUT_KEY, Snapshot
from tui.widgets.quiet_update import update_quietly
from tui.widgets.system_readings import (
    Gauge,
    GpuReadings,
    fmt_mb,
    fmt_used_of,
    gauge_rows,
    gpu_readings,
)
from tui.widgets.text_spark import bar, text_spark

SPARK_POINTS = 60
"""Most recent readings the throughput sparkline shows."""
LABEL_WIDTH = 6
MEMORY_BAR = 8
"""Cells of a GPU's memory gauge."""
WIDE_GPU_TABLE = 72
"""Content width from which the GPU rows also show torch's allocated and peak memory."""
GPU_COLUMNS_WIDTH = 84
"""Cells the GPU table's figures take at most (with the allocator's), before the utilisation history."""
GPU_ROWS_BESIDE = 4
"""More GPUs than this beside the eval table are summed up in one row (maximized, each gets its own)."""
STARVING_NOTE = "training waits on data: raise data.workers, or cache decoded images"
_ALLOCATOR_KINDS = (
    ("mem_alloc_mb", "alloc"),
    ("mem_reserved_mb", "reserved"),
    ("mem_peak_mb", "peak"),
    ("mem_device_used_mb", "device"),
)


class SystemPanel(Vertical):
    """GPU rows, CPU / memory / data-wait gauges with text sparklines, and the throughput sparkline.

    Beside the eval table the panel is as tall as its content and two gauges share a row. Given a height that
    holds more (maximized with key 3, or alone in the compact layout), each gauge and GPU gets its own row and
    history, and the throughput sparkline takes the rest.
    """

    ALLOW_MAXIMIZE = True
    """Keys 1–4 can give the panel the whole screen."""

    DEFAULT_CSS = """
    SystemPanel { height: auto; }
    SystemPanel #system-table, SystemPanel #system-gauges { height: auto; }
    SystemPanel #system-spark-label { height: 1; color: $text-muted; }
    SystemPanel Sparkline { height: 2; margin: 0 1; }
    SystemPanel.-roomy Sparkline { height: 1fr; min-height: 2; max-height: 12; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._snapshot: Snapshot | None = None
        self._drawn: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        """GPU rows, gauges, then the throughput sparkline and its label."""
        yield Static(id="system-table")
        yield Static(id="system-gauges")
        yield Static(id="system-spark-label")
        yield Sparkline([], id="system-spark")

    def on_mount(self) -> None:
        """Redraw when the theme (colours) or the maximized widget (room) changes."""
        self.watch(self.app, "theme", lambda: self._redraw(force=True), init=False)
        self.watch(self.screen, "maximized", self._on_maximized, init=False)

    def _on_maximized(self) -> None:
        """Maximized, fill the screen whatever height the layout gives the panel otherwise."""
        self.styles.height = "1fr" if self.is_maximized else None
        self._redraw(force=True)

    def on_resize(self, event: Resize) -> None:
        """Sparklines fill the width; the height decides one gauge a row or two."""
        self._redraw()

    def show(self, snapshot: Snapshot) -> None:
        """Draw the latest readings."""
        self._snapshot = snapshot
        self._redraw()

    def _redraw(self, force: bool = False) -> None:
        """Draw the snapshot unless it was drawn at this size already (the monitor re-sends unchanged ones)."""
        snapshot = self._snapshot
        if snapshot is None:
            return
        width, height = max(self.content_size.width, 20), self.content_size.height
        key = (snapshot.version, width, height)
        if key == self._drawn and not force:
            return
        self._drawn = key
        gpus, rows = gpu_readings(snapshot), gauge_rows(snapshot)
        each_gpu, roomy = self._room(gpus, rows, height)
        self.set_class(roomy, "-roomy")
        table, gauges = self.query_one("#system-table", Static), self.query_one("#system-gauges", Static)
        table.display, gauges.display = bool(gpus), bool(rows)  # no blank line for what the run did not log
        shape = (len(gpus), tuple(len(g) for _, g in rows), each_gpu, roomy, width)  # what sets their heights
        update_quietly(table, self._gpu_table(snapshot, gpus, width, each_gpu, roomy), extent=shape)
        update_quietly(gauges, self._gauges(rows, width, roomy), extent=shape)
        self._throughput(snapshot)

    def _room(
        self, gpus: list[GpuReadings], rows: list[tuple[str, list[Gauge]]], height: int
    ) -> tuple[bool, bool]:
        """(a row for each GPU, a row for each gauge). At `auto` height (beside the eval table) the panel keeps
        small: up to GPU_ROWS_BESIDE GPUs get rows, gauges go two a row. A height set by the layout (maximized,
        or alone in the compact layout) gives rows to what it holds, GPUs first."""
        fixed = self.styles.height is not None and not self.styles.height.is_auto
        rest = 1 + 1 + 2  # the starving note, the throughput label, its sparkline
        gpu_rows = len(gpus) + 1 if gpus else 0
        if not fixed:
            return len(gpus) <= GPU_ROWS_BESIDE, False
        each_gpu = len(gpus) <= GPU_ROWS_BESIDE or height >= gpu_rows + len(rows) + rest
        shown_gpu_rows = gpu_rows if each_gpu else 3
        return each_gpu, height >= shown_gpu_rows + sum(len(gauges) for _, gauges in rows) + rest

    # -- GPUs ------------------------------------------------------------------------------------------

    def _gpu_table(
        self, snapshot: Snapshot, gpus: list[GpuReadings], width: int, each_gpu: bool, roomy: bool
    ) -> Table | Group | Text:
        """A row per device: memory gauge, used/total, util, temperature, power (torch's allocated and peak
        memory and the utilisation history when there is room); the allocator's figures alone without NVML."""
        if not gpus:
            return Text()
        if not each_gpu:
            return self._gpu_summary(gpus)
        table = Table.grid(padding=(0, 1), expand=False)
        table.add_column(style="bold", min_width=LABEL_WIDTH)
        if not any(gpu.has_nvml for gpu in gpus):
            for _ in _ALLOCATOR_KINDS:
                table.add_column(justify="right")
            table.add_row(Text("GPU mem", style="dim"), *(Text(t, style="dim") for _, t in _ALLOCATOR_KINDS))
            for gpu in gpus:
                table.add_row(f"cuda:{gpu.device}", *(fmt_mb(gpu.values.get(k)) for k, _ in _ALLOCATOR_KINDS))
            return table
        allocator = width >= WIDE_GPU_TABLE
        titles = ["GPU", "memory", "", "util", "temp", "power"] + (["alloc", "peak"] if allocator else [])
        readings = max((len(snapshot.system[k][1]) for g in gpus if (k := g.keys.get("util_pct"))), default=0)
        spark_width = min(width - GPU_COLUMNS_WIDTH, readings) if roomy and allocator else 0
        if spark_width >= 10:
            titles.append("util history")
        table.add_column()
        for _ in titles[2:]:
            table.add_column(justify="right")
        if spark_width >= 10:
            table.add_column(no_wrap=True, justify="left", width=spark_width)
        table.add_row(*(Text(t, style="dim") for t in titles))
        for gpu in gpus:
            row = self._gpu_row(gpu)
            if allocator:
                row += [fmt_mb(gpu.values.get("mem_alloc_mb")), fmt_mb(gpu.values.get("mem_peak_mb"))]
            if spark_width >= 10:
                util = snapshot.system.get(gpu.keys.get("util_pct", ""), (None, np.zeros(0)))[1]
                row.append(Text(text_spark(util, spark_width, high=100.0), style=self._color("primary")))
            table.add_row(*row)
        return table

    def _gpu_summary(self, gpus: list[GpuReadings]) -> Group:
        """Many GPUs beside the eval table: the range of each reading over the devices, the total power."""

        def span(values: list[float], fmt: str) -> str:
            low, high = fmt.format(min(values)), fmt.format(max(values))
            return low if low == high else f"{low}–{high}"

        def readings(kind: str) -> list[float]:
            return [gpu.values[kind] for gpu in gpus if kind in gpu.values]

        used = [
            v
            for gpu in gpus
            if (v := gpu.values.get("mem_device_used_mb", gpu.values.get("mem_reserved_mb")))
        ]
        totals, power = readings("mem_device_total_mb"), readings("power_w")
        memory = "–"
        if used and len(set(totals)) == 1:
            memory = f"{span([u / 1024 for u in used], '{:.1f}')}/{totals[0] / 1024:.1f} GB"
        elif used:
            memory = span([u / 1024 for u in used], "{:.1f}") + " GB"
        util, temp = readings("util_pct"), readings("temp_c")
        table = Table.grid(padding=(0, 1), expand=False)
        table.add_column(style="bold", min_width=LABEL_WIDTH)
        for _ in range(4):
            table.add_column(justify="right")
        table.add_row(
            *(Text(t, style="dim") for t in (f"{len(gpus)} GPUs", "memory", "util", "temp", "power Σ"))
        )
        table.add_row(
            "min–max",
            memory,
            span(util, "{:.0f}") + "%" if util else "–",
            span(temp, "{:.0f}") + "°C" if temp else "–",
            f"{sum(power) / 1000:.1f} kW" if power else "–",
        )
        fixed = self.styles.height is not None and not self.styles.height.is_auto
        return Group(table, Text("each GPU: a taller terminal" if fixed else "each GPU: key 3", style="dim"))

    def _gpu_row(self, gpu: GpuReadings) -> list[Text | str]:
        v = gpu.values
        used, total = v.get("mem_device_used_mb", v.get("mem_reserved_mb")), v.get("mem_device_total_mb")
        gauge = Text()
        if used is not None and total:
            fraction = used / total
            filled, empty = bar(fraction, MEMORY_BAR)
            gauge.append(filled, style=self._color("warning" if fraction >= 0.95 else "primary"))
            gauge.append(empty, style="dim")
        util, temp = v.get("util_pct"), v.get("temp_c")
        power, limit = v.get("power_w"), v.get("power_limit_w")
        power_text = "–" if power is None else f"{power:.0f}" + (f"/{limit:.0f}" if limit else "") + " W"
        return [
            f"cuda:{gpu.device}",
            gauge,
            fmt_used_of(used, total),
            "–" if util is None else f"{util:.0f}%",
            "–" if temp is None else f"{temp:.0f}°C",
            power_text,
        ]

    # -- CPU, memory, data wait ------------------------------------------------------------------------

    def _gauges(self, rows: list[tuple[str, list[Gauge]]], width: int, roomy: bool) -> Group | Text:
        """Each figure then its sparkline: two a row side by side, or one a row when there is room."""
        if not rows:
            return Text()
        per_row = 1 if roomy else 2
        lines: list[tuple[str, list[Gauge]]] = []
        for label, gauges in rows:
            for start in range(0, len(gauges), per_row):
                lines.append((label if start == 0 else "", gauges[start : start + per_row]))
        figure_width = [
            max((len(g[i].figure) for _, g in lines if len(g) > i), default=0) for i in range(per_row)
        ]
        fixed = LABEL_WIDTH + sum(figure_width) + 2 * per_row + 1  # one space after each cell
        spark_width = max(0, (width - fixed) // per_row)
        table = Table.grid(padding=(0, 1), expand=False)
        table.add_column(style="bold", min_width=LABEL_WIDTH)
        for i in range(per_row):
            table.add_column(min_width=figure_width[i])
            table.add_column(no_wrap=True, width=spark_width)
        spark_style = self._color("primary")
        for label, gauges in lines:
            cells: list[Text | str] = [label]
            for gauge in gauges:
                style = f"bold {self._color('warning')}" if gauge.alert else ""
                spark = text_spark(gauge.values, spark_width, gauge.low, gauge.high)
                cells += [Text(gauge.figure, style=style), Text(spark, style=style or spark_style)]
            table.add_row(*cells)
        if roomy and any(g.alert for _, gauges in rows for g in gauges):
            return Group(table, Text(STARVING_NOTE, style="dim"))
        return Group(table)

    def _color(self, name: str) -> str:
        """A colour of the current theme ('primary', 'warning'), for Rich styles (NO_COLOR drops them)."""
        value = getattr(self.app.current_theme, name, None)
        return value or ""

    # -- throughput ------------------------------------------------------------------------------------

    def _throughput(self, snapshot: Snapshot) -> None:
        """The sparkline of img/s (or memory when the run has no throughput) and its label."""
        key, label = self._spark_key(snapshot)
        spark = self.query_one(Sparkline)
        if key is None:
            spark.data = []
            update_quietly(
                self.query_one("#system-spark-label", Static), Text(" no system readings yet", style="dim")
            )
            return
        y = snapshot.system[key][1][-SPARK_POINTS:]
        y = y[np.isfinite(y)]
        spark.data = y.tolist()
        lo, hi = (float(y.min()), float(y.max())) if len(y) else (0.0, 0.0)
        spread = f"{lo:,.0f}–{hi:,.0f}"
        if key == TRAIN_THROUGHPUT_KEY:  # the header's figure, said the same way, then the sparkline's range
            img = snapshot.train_img_per_s()
            figure = f" train {img:,.0f} img/s" if img is not None else " train – img/s"
            detail = f"  last {THROUGHPUT_WINDOWS} logs · range {spread}"
        else:
            figure, detail = f" {label}", f"  last {len(y)} readings · {spread}"
        update_quietly(
            self.query_one("#system-spark-label", Static), Text.assemble((figure, "bold"), (detail, "dim"))
        )

    def _spark_key(self, snapshot: Snapshot) -> tuple[str | None, str]:
        """Which gauge the sparkline follows: throughput, else GPU allocated, else RSS."""
        for key, label in (
            (TRAIN_THROUGHPUT_KEY, "train img/s"),
            ("gpu_mem_alloc_mb", "GPU alloc MB"),
            ("rss_mb", "RSS MB"),
        ):
            if key in snapshot.system and len(snapshot.system[key][1]):
                return key, label
        return None, ""
