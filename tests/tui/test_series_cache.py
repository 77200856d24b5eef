"""The decoded-backlog cache: reopening reads only appended bytes, and a rewritten file is never trusted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.core.protocol import EventWriter
from tui.data import event_columns, series_cache
from tui.data.run_stream import RunStream


@pytest.fixture(autouse=True)
def small_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache folder, written for any backlog (the real threshold is megabytes)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("LABCONSOLE_SERIES_CACHE", raising=False)
    monkeypatch.setenv("LABCONSOLE_EVENT_INDEX", "off")  # the cache serves runs without the engine's index
    monkeypatch.setattr(series_cache, "MIN_CACHED_BYTES", 1)
    monkeypatch.setattr("tui.data.run_stream.BULK_BYTES", 1)
    return tmp_path / "cache" / "labconsole" / "series"


def write_events(run: Path, steps: range, evals: bool = True) -> None:
    run.mkdir(parents=True, exist_ok=True)
    with EventWriter(run / "events.jsonl") as writer:
        for step in steps:
            writer.scalar(step, {"loss/total": 1.0 / (step + 1), "lr/head": 1e-3})
            if evals and step % 50 == 0:
                writer.emit("eval", step=step, split="val", metrics={"R@1": float(step)})


def state(stream: RunStream) -> tuple:
    snap = stream.snapshot()
    series = {k: (x.tolist(), y.tolist()) for k, (x, y) in snap.scalars.items()}
    return series, {k: [(p.step, p.metrics) for p in v] for k, v in stream.evals.items()}, stream.last_step


def spy_decodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record the byte ranges handed to the bulk decoder."""
    calls: list[tuple[int, int]] = []
    real = event_columns.decode_file

    def spy(path, offset, size):  # type: ignore[no-untyped-def]
        calls.append((offset, size))
        return real(path, offset, size)

    monkeypatch.setattr(series_cache, "decode_file", spy)
    return calls


def test_reopen_uses_the_cache_and_decodes_only_the_appended_bytes(tmp_path: Path, small_cache: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    write_events(run, range(300))
    first = RunStream(run)
    first.poll()
    assert len(list(small_cache.glob("*.npz"))) == 1
    covered = (run / "events.jsonl").stat().st_size

    write_events(run, range(300, 420))  # the run went on while the console was closed
    calls = spy_decodes(monkeypatch)
    reopened, fresh = RunStream(run), None
    reopened.poll()
    assert calls == [(covered, (run / "events.jsonl").stat().st_size)]

    monkeypatch.setenv("LABCONSOLE_SERIES_CACHE", "off")
    fresh = RunStream(run)
    fresh.poll()
    assert state(reopened) == state(fresh)
    assert state(reopened)[2] == 419 and len(state(reopened)[1]["val"]) == 9


def test_a_rewritten_file_is_decoded_from_scratch(tmp_path: Path, small_cache: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    write_events(run, range(300))
    RunStream(run).poll()
    (run / "events.jsonl").unlink()
    write_events(run, range(1000, 1400), evals=False)  # same run folder, another history, longer file
    calls = spy_decodes(monkeypatch)
    stream = RunStream(run)
    stream.poll()
    assert calls[0][0] == 0
    x, y = stream.snapshot().scalars["loss/total"]
    assert x[0] == 1000 and len(x) == 400 and not stream.evals


def test_a_corrupt_cache_file_is_ignored(tmp_path: Path, small_cache: Path) -> None:
    run = tmp_path / "run"
    write_events(run, range(200))
    RunStream(run).poll()
    for cached in small_cache.glob("*.npz"):
        cached.write_bytes(b"not a zip file")
    stream = RunStream(run)
    stream.poll()
    x, _ = stream.snapshot().scalars["loss/total"]
    np.testing.assert_array_equal(x, np.arange(200))


def test_disabled_cache_writes_nothing(tmp_path: Path, small_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABCONSOLE_SERIES_CACHE", "off")
    run = tmp_path / "run"
    write_events(run, range(200))
    RunStream(run).poll()
    assert not small_cache.exists()
