"""System panel: GPU memory alloc/reserved/peak per device (or host RSS and CPU%), training throughput + sparkline."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from tui.data.run_snapshot import THROUGHPUT_WINDOWS, TRAIN_THROUGHPUT_KEY, Snapshot

SPARK_POINTS = 60
"""Most recent readings the sparkline shows."""

_GPU_KEY = re.compile(
    r"^(?:gpu(?P<pre>\d+)[/_])?gpu_mem_(?P<kind>alloc|reserved|peak|device_used)_mb(?:/(?P<post>\d+))?$"
)
_GPU_KINDS = (("alloc", "alloc"), ("reserved", "reserved"), ("peak", "peak"), ("device_used", "device"))


@dataclass(frozen=True)
class GpuMemory:
    """The latest memory readings of one device, in MB."""

    device: str
    values: dict[str, float]


def gpu_memory(snapshot: Snapshot) -> list[GpuMemory]:
    """Latest GPU memory per device from system keys like gpu_mem_alloc_mb, gpu1/gpu_mem_peak_mb, …/1."""
    devices: dict[str, dict[str, float]] = {}
    for key in snapshot.system:
        m = _GPU_KEY.match(key)
        value = snapshot.system_last(key)
        if m and value is not None:
            device = m["pre"] or m["post"] or "0"
            devices.setdefault(device, {})[m["kind"]] = value
    return [GpuMemory(d, devices[d]) for d in sorted(devices, key=int)]


def fmt_mb(mb: float | None) -> str:
    """Memory in MB as '812 MB' or '11.4 GB'."""
    if mb is None or math.isnan(mb):
        return "–"
    return f"{mb:,.0f} MB" if mb < 1024 else f"{mb / 1024:.1f} GB"


class SystemPanel(Vertical):
    """Memory readings as a right-aligned table and a sparkline of img/s (or memory when no throughput)."""

    ALLOW_MAXIMIZE = True
    """Keys 1–4 can give the panel the whole screen."""

    DEFAULT_CSS = """
    SystemPanel { height: auto; }
    SystemPanel #system-table { height: auto; }
    SystemPanel #system-spark-label { height: 1; color: $text-muted; }
    SystemPanel Sparkline { height: 2; margin: 0 1; }
    """

    def compose(self) -> ComposeResult:
        """Readings, then the sparkline and its label."""
        yield Static(id="system-table")
        yield Static(id="system-spark-label")
        yield Sparkline([], id="system-spark")

    def show(self, snapshot: Snapshot) -> None:
        """Draw the latest readings."""
        self.query_one("#system-table", Static).update(self._table(snapshot))
        key, label = self._spark_key(snapshot)
        spark = self.query_one(Sparkline)
        if key is None:
            spark.data = []
            self.query_one("#system-spark-label", Static).update(Text(" no system readings yet", style="dim"))
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
        self.query_one("#system-spark-label", Static).update(Text.assemble((figure, "bold"), (detail, "dim")))

    def _table(self, snapshot: Snapshot) -> Table:
        """GPU rows (alloc / reserved / peak / device), else host RSS and CPU."""
        table = Table.grid(padding=(0, 2), expand=False)
        gpus = gpu_memory(snapshot)
        if gpus:
            table.add_column(style="bold")
            for _, title in _GPU_KINDS:
                table.add_column(header=title, justify="right")
            table.add_row(Text("GPU mem", style="dim"), *(Text(t, style="dim") for _, t in _GPU_KINDS))
            for gpu in gpus:
                table.add_row(f"cuda:{gpu.device}", *(fmt_mb(gpu.values.get(k)) for k, _ in _GPU_KINDS))
        table_host = self._host_row(snapshot)
        if table_host is not None:
            if not gpus:
                table.add_column(style="bold")
                table.add_column(justify="right")
                table.add_column(justify="right")
            table.add_row(*table_host[: len(table.columns)])
        return table

    def _host_row(self, snapshot: Snapshot) -> list[Text | str] | None:
        """'host  2.1 GB  187%' (RSS and CPU of the engine process)."""
        rss, cpu = snapshot.system_last("rss_mb"), snapshot.system_last("cpu_percent")
        if rss is None and cpu is None:
            return None
        cpu_text = "–" if cpu is None else f"{cpu:.0f}% cpu"
        return ["host", f"{fmt_mb(rss)} rss", cpu_text, "", "", ""]

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
