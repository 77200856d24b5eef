"""The system panel under Pilot: two GPUs (as the trainer's DDP merge writes them), CPU and memory with history,
the data-loader wait and its warning, at 80×24, 120×32 and maximized."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from textual.app import App
from textual.pilot import Pilot
from textual.widget import Widget

from engine.core.protocol import EventWriter
from tests.tui.fixtures import frozen_clock, make_run, wait_for
from tui.screens.monitor import MonitorScreen
from tui.widgets.system_panel import SystemPanel
from tui.widgets.text_spark import BLOCKS, text_spark

LOGS = 40
"""System readings the fixture adds after its ordinary events."""


def gpu_readings(rank: int, i: int) -> dict[str, float]:
    """One GPU's readings as rank `rank` samples them at log `i` (a warming card, a steady memory footprint)."""
    prefix = f"gpu{rank}/" if rank else ""
    values = {
        "gpu_mem_alloc_mb": 14_000.0 + 10 * i,
        "gpu_mem_reserved_mb": 16_000.0,
        "gpu_mem_peak_mb": 15_500.0 + rank * 100,
        "gpu_mem_device_used_mb": 18_000.0 - rank * 2_500,
        "gpu_mem_device_total_mb": 24_576.0,
        "gpu_util_pct": 97.0 - 4 * rank,
        "gpu_temp_c": 60.0 + i / 4 + rank,
        "gpu_power_w": 281.0 - 11 * rank,
        "gpu_power_limit_w": 350.0,
    }
    return {prefix + key: value for key, value in values.items()}


def two_gpu_run(runs: Path, name: str = "ddp-two-gpus", wait_pct: float = 42.0, gpus: int = 2) -> Path:
    """A running DDP run (two GPUs by default) whose last readings carry every gauge the engine samples."""
    folder = make_run(runs, name, "running", max_steps=10_000, steps=5_000)
    with EventWriter(folder / "events.jsonl") as w:
        for i in range(LOGS):
            w.system(
                5_010 + 10 * i,
                {
                    "img_per_s": 800.0 + 20 * math.sin(i / 3),
                    "rss_mb": 3_100.0,
                    "cpu_percent": 96.0,
                    "proc_rss_mb": 6_400.0 + 5 * i,
                    "proc_cpu_pct": 180.0 + 40 * math.sin(i / 4),
                    "host_cpu_pct": 40.0 + 30 * math.sin(i / 5) ** 2,
                    "host_mem_used_mb": 31_000.0 + 20 * i,
                    "host_mem_total_mb": 64_000.0,
                    "data_wait_pct": wait_pct * i / (LOGS - 1),
                    "data_wait_ms": 2.0 + 0.5 * i,
                    **{k: v for rank in range(gpus) for k, v in gpu_readings(rank, i).items()},
                },
            )
    return folder


class MonitorApp(App[None]):
    def __init__(self, run_dir: Path, theme: str | None = None) -> None:
        super().__init__()
        self.clock = frozen_clock
        self.run_dir = run_dir
        if theme:
            self.theme = theme

    def on_mount(self) -> None:
        self.push_screen(MonitorScreen(self.run_dir, poll_interval=0.05))


def lines_of(widget: Widget) -> list[str]:
    """What a widget shows, as plain lines (a container: its children's, in order)."""
    if isinstance(widget, SystemPanel):
        return [line for child in widget.children for line in lines_of(child)]
    return [strip.text.rstrip() for strip in widget.render_lines(widget.region.reset_offset)]


async def panel_shown(pilot: Pilot) -> SystemPanel:
    """The system panel once it shows the fixture's last readings."""
    screen = pilot.app.screen
    assert isinstance(screen, MonitorScreen)
    await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.events_read)
    panel = screen.query_one(SystemPanel)
    shown = ("cuda:1", "memory", "train")
    await wait_for(
        pilot,
        lambda: all(part in "\n".join(lines_of(panel)) for part in shown),
        describe=lambda: "\n".join(lines_of(panel)),
    )
    return panel


async def test_each_gpu_has_memory_util_temperature_and_power(tmp_path: Path) -> None:
    app = MonitorApp(two_gpu_run(tmp_path / "runs"))
    async with app.run_test(size=(120, 32)) as pilot:
        panel = await panel_shown(pilot)
        rows = {line.split()[0]: line for line in lines_of(panel.query_one("#system-table")) if line.strip()}
        assert "17.6/24.0 GB" in rows["cuda:0"] and "97%" in rows["cuda:0"] and "281/350 W" in rows["cuda:0"]
        assert "15.1/24.0 GB" in rows["cuda:1"] and "93%" in rows["cuda:1"] and "270/350 W" in rows["cuda:1"]
        assert "70°C" in rows["cuda:0"] and "71°C" in rows["cuda:1"]
        assert "█" in rows["cuda:0"] and "░" in rows["cuda:0"]  # the memory gauge


async def test_cpu_memory_and_data_wait_with_history_and_a_starving_warning(tmp_path: Path) -> None:
    app = MonitorApp(two_gpu_run(tmp_path / "runs"))
    async with app.run_test(size=(120, 32)) as pilot:
        panel = await panel_shown(pilot)
        gauges = "\n".join(lines_of(panel.query_one("#system-gauges")))
        assert "host 70%" in gauges and "proc 167%" in gauges
        assert "rss 6.4 GB" in gauges and "host 31.0/62.5 GB" in gauges
        assert "wait 42% ⚠" in gauges and "22 ms/batch" in gauges
        assert any(block in gauges for block in BLOCKS[1:])  # the sparklines
        assert "train" in "\n".join(lines_of(panel.query_one("#system-spark-label")))


async def test_a_healthy_data_wait_has_no_warning(tmp_path: Path) -> None:
    app = MonitorApp(two_gpu_run(tmp_path / "runs", wait_pct=6.0))
    async with app.run_test(size=(120, 32)) as pilot:
        panel = await panel_shown(pilot)
        gauges = "\n".join(lines_of(panel.query_one("#system-gauges")))
        assert "wait 6%" in gauges and "⚠" not in gauges


async def test_compact_layout_shows_the_panel_on_key_3(tmp_path: Path) -> None:
    app = MonitorApp(two_gpu_run(tmp_path / "runs"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        panel = await panel_shown(pilot)
        shown = lines_of(panel)
        assert len(shown) <= 24 - 3 and all(len(line) <= 80 for line in shown)
        text = "\n".join(shown)
        assert "cuda:0" in text and "cuda:1" in text and "wait 42% ⚠" in text and "rss 6.4 GB" in text


async def test_maximized_the_gauges_take_a_row_each_with_longer_history(tmp_path: Path) -> None:
    app = MonitorApp(two_gpu_run(tmp_path / "runs"))
    async with app.run_test(size=(200, 50)) as pilot:
        panel = await panel_shown(pilot)
        paired = [line for line in lines_of(panel.query_one("#system-gauges")) if line.strip()]
        await pilot.press("3")
        await wait_for(
            pilot,
            lambda: panel.is_maximized and len(lines_of(panel.query_one("#system-gauges"))) > len(paired),
        )
        rows = [line for line in lines_of(panel.query_one("#system-gauges")) if line.strip()]
        assert sum("host" in line for line in rows) == 2 and "raise data.workers" in "\n".join(rows)
        longest = max(sum(c in BLOCKS for c in line) for line in rows)
        assert longest == LOGS  # every reading fits in the width
        table = "\n".join(lines_of(panel.query_one("#system-table")))
        assert "alloc" in table and "peak" in table  # torch's allocator too, when there is room


async def test_eight_gpus_beside_the_eval_table_share_one_row_and_each_has_its_own_maximized(
    tmp_path: Path,
) -> None:
    app = MonitorApp(two_gpu_run(tmp_path / "runs", gpus=8))
    async with app.run_test(size=(120, 32)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.events_read)
        panel = screen.query_one(SystemPanel)
        await wait_for(
            pilot, lambda: "8 GPUs" in "\n".join(lines_of(panel)) and "memory" in "\n".join(lines_of(panel))
        )
        table = "\n".join(lines_of(panel.query_one("#system-table")))
        assert "cuda:" not in table
        assert "0.5–17.6/24.0 GB" in table and "69–97%" in table and "70–77°C" in table and "1.9 kW" in table
        await pilot.press("3")
        await wait_for(pilot, lambda: "cuda:7" in "\n".join(lines_of(panel.query_one("#system-table"))))


async def test_a_cpu_run_of_an_older_engine_shows_what_it_logged(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs", "cpu-old", "running", max_steps=1_000, steps=500)
    app = MonitorApp(folder)
    async with app.run_test(size=(120, 32)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.snapshot is not None and screen.snapshot.events_read)
        panel = screen.query_one(SystemPanel)
        await wait_for(pilot, lambda: "rss" in "\n".join(lines_of(panel)))
        text = "\n".join(lines_of(panel))
        assert "proc 187%" in text and "rss 2.1 GB" in text and "cuda" not in text and "wait" not in text


def test_text_spark_scales_to_a_fixed_range_and_keeps_the_latest() -> None:
    assert text_spark(np.array([0.0, 50.0, 100.0]), 10, high=100.0) == "▁▅█"
    assert text_spark(np.array([1.0, 2.0, np.nan, 3.0]), 2) == "▆█"
    assert text_spark(np.array([5.0, 5.0]), 4, low=5.0, high=5.0) == "▁▁"
    assert text_spark(np.zeros(0), 4) == "" and text_spark(np.ones(3), 0) == ""
