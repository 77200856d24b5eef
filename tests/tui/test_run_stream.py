"""RunStream and its bulk decoder: incremental reads, exact columns, alerts, markers, log tail."""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.core.protocol import EventWriter
from tests.tui.fixtures import FROZEN_NOW, frozen_clock, make_run, write_run_json
from tui.data import event_columns, run_stream
from tui.data.event_columns import chunk_from_events, decode_chunk, decode_line
from tui.data.run_stream import RunStream

# -- the bulk decoder against line-by-line json ------------------------------------------------------


def reference(data: bytes) -> event_columns.Chunk:
    """What decoding every line with json gives (the brute-force reference)."""
    events = [decode_line(line) for line in data.split(b"\n") if line.strip()]
    chunk = chunk_from_events([e for e in events if e is not None])
    chunk.malformed = sum(e is None for e in events)
    return chunk


def assert_same(got: event_columns.Chunk, want: event_columns.Chunk) -> None:
    """Same series (bit for bit, NaN == NaN), same other events, same malformed count."""
    assert sorted(got.series) == sorted(want.series)
    for key, (steps, values) in want.series.items():
        np.testing.assert_array_equal(got.series[key][0], steps, err_msg=str(key))
        np.testing.assert_array_equal(got.series[key][1], values, err_msg=str(key))
    assert got.events == want.events
    assert got.malformed == want.malformed


def random_number(rng: random.Random) -> Any:
    """Floats and ints the way engines produce them, plus the odd corner case."""
    return rng.choice(
        [
            rng.random(),
            rng.uniform(-1e6, 1e6),
            10 ** rng.uniform(-12, 12),
            rng.randint(0, 10**9),
            -rng.random(),
            1e-5 * rng.random(),
            0.1 + 0.2,
            0,
            -0.0,
            1e300 * rng.random(),
            5e-324,
            123456789012345678,
            rng.choice(["nan", "inf", "-inf"]),
            round(rng.random(), 3),
        ]
    )


def messy_lines(seed: int, n: int) -> bytes:
    """A mixed events file: several scalar/system shapes, other kinds, separators, junk and corner cases."""
    rng = random.Random(seed)
    shapes = [
        ["loss/total", "loss/ce", "lr/backbone", "grad_norm"],
        ["loss/total", "loss/dice", "lr/head"],
        ["img_per_s", "rss_mb", "gpu_mem_alloc_mb"],
        ["lr/group_0_backbone", "lr/group_1_backbone"],
        ["loss/λ-ünïcode", "R@1"],
    ]
    compact, spaced = json.JSONEncoder(separators=(",", ":")), json.JSONEncoder()
    out = []
    for i in range(n):
        enc = compact if rng.random() < 0.8 else spaced
        r = rng.random()
        if r < 0.7:
            keys = shapes[0] if rng.random() < 0.7 else rng.choice(shapes)
            kind = "system" if keys is shapes[2] else "scalar"
            rec: dict[str, Any] = {
                "t": 1.7e9 + i * 0.1,
                "seq": i,
                "kind": kind,
                "step": i // 2,
                "values": {k: random_number(rng) for k in keys},
            }
            if rng.random() < 0.05:
                rec["values"]["flag"] = rng.choice([True, None, "text", [1, 2], {"a": 1}])
            if rng.random() < 0.03:
                del rec["step"]
            if rng.random() < 0.03:
                rec["epoch"] = rng.randint(0, 9)
            out.append(enc.encode(rec))
        elif r < 0.8:
            out.append(
                enc.encode(
                    {
                        "t": 1.7e9,
                        "seq": i,
                        "kind": "eval",
                        "step": i,
                        "split": "tokyo",
                        "metrics": {"R@1": rng.random() * 100, "R@5": "nan"},
                    }
                )
            )
        elif r < 0.85:
            out.append(
                enc.encode(
                    {
                        "t": 1.7e9,
                        "seq": i,
                        "kind": "alert",
                        "level": "error",
                        "code": "nan",
                        "message": "loss: nan, at step 5 {x}",
                    }
                )
            )
        elif r < 0.9:
            out.append(
                enc.encode(
                    {
                        "t": 1.7e9,
                        "seq": i,
                        "kind": "control",
                        "step": i,
                        "id": "c:1",
                        "action": "set",
                        "values": {"optim.lr": 1e-4},
                        "status": "applied",
                    }
                )
            )
        else:
            out.append(
                rng.choice(
                    [
                        "",
                        "   ",
                        "garbage",
                        "[1, 2]",
                        '{"t": 1, "kind": "scalar", "step": 3, "values": {"loss/total": 1.2.3}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":01}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":1e}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":-}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":1',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":NaN,"loss/ce":-Infinity}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":1,"loss/total":2}}',
                        '{"t":1,"seq":1,"kind":"scalar","step":3,"values":{"loss/total":1E+2,"loss/ce":-0.5e-3}}',
                    ]
                )
            )
    return ("\n".join(out) + "\n").encode()


@pytest.mark.parametrize("seed", range(6))
def test_decode_chunk_equals_json_line_by_line(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_columns, "_BLOCK", 16 << 10)  # many blocks, lines cut at block ends
    monkeypatch.setattr(event_columns, "_MIN_LINES", 4)
    data = messy_lines(seed, 3000)
    assert_same(decode_chunk(data), reference(data))


def test_decode_chunk_takes_the_bulk_path_for_regular_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"".join(
        json.dumps(
            {
                "t": 1.0,
                "seq": i,
                "kind": "scalar",
                "step": i,
                "values": {"loss/total": 1 / (i + 1), "lr/x": 1e-4},
            },
            separators=(",", ":"),
        ).encode()
        + b"\n"
        for i in range(5000)
    )
    slow: list[bytes] = []
    real = event_columns.decode_line
    monkeypatch.setattr(event_columns, "decode_line", lambda line: slow.append(line) or real(line))
    chunk = decode_chunk(data)
    assert len(slow) < 20  # a sample line per block and the last line, not 5000
    assert chunk.series[("scalar", "loss/total")][1][4999] == 1 / 5000
    assert chunk.last_t == 1.0


def test_parsed_numbers_are_exactly_float() -> None:
    rng = random.Random(7)
    values = [rng.uniform(-1e3, 1e3) for _ in range(20_000)] + [
        10 ** rng.uniform(-20, 20) for _ in range(20_000)
    ]
    lines = [
        json.dumps({"t": 0, "seq": i, "kind": "scalar", "step": i, "values": {"v": v}})
        for i, v in enumerate(values)
    ]
    chunk = decode_chunk(("\n".join(lines) + "\n").encode())
    assert chunk.series[("scalar", "v")][1].tolist() == values


def test_decode_chunk_keeps_file_order_across_shapes() -> None:
    lines = []
    for i in range(200):
        values = {"loss/total": float(i)} if i % 3 else {"loss/total": float(i), "loss/extra": 1.0}
        lines.append(json.dumps({"t": 0, "seq": i, "kind": "scalar", "step": i, "values": values}))
    chunk = decode_chunk(("\n".join(lines) + "\n").encode())
    steps, values = chunk.series[("scalar", "loss/total")]
    assert steps.tolist() == list(range(200)) and values.tolist() == [float(i) for i in range(200)]


# -- RunStream ---------------------------------------------------------------------------------------


def new_run(tmp_path: Path, status: str = "running", **info: Any) -> Path:
    """An empty run folder with a run.json (a remote host, so a live status is trusted)."""
    folder = tmp_path / "runs" / "r1"
    folder.mkdir(parents=True)
    base = {
        "id": "r1",
        "name": "r1",
        "status": status,
        "created": FROZEN_NOW - 100,
        "started": FROZEN_NOW - 100,
        "host": "elsewhere",
        "pid": 4242,
        "progress": {"step": 0, "max_steps": 1000, "epoch": 0},
    }
    base.update(info)
    write_run_json(folder, base)
    return folder


def write_scalars(folder: Path, steps: range, **extra: float) -> None:
    """Append scalar events through the engine's writer."""
    with EventWriter(folder / "events.jsonl") as w:
        for s in steps:
            w.scalar(s, {"loss/total": 1.0 / (s + 1), "lr/backbone": 1e-4, **extra})


def test_poll_reads_only_what_was_appended(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    write_scalars(folder, range(10))
    stream = RunStream(folder, clock=frozen_clock)
    assert stream.poll()
    assert stream.scalars["loss/total"].n == 10
    assert not stream.poll()  # nothing new
    write_scalars(folder, range(10, 15))
    assert stream.poll()
    assert stream.scalars["loss/total"].x.tolist() == list(range(15))


def test_torn_last_line_waits_for_its_end(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    events = folder / "events.jsonl"
    events.write_text(
        '{"t":1,"seq":0,"kind":"scalar","step":1,"values":{"loss/total":0.5}}\n{"t":2,"seq":1,"ki'
    )
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    assert stream.scalars["loss/total"].n == 1
    with events.open("a") as f:
        f.write('nd":"scalar","step":2,"values":{"loss/total":0.25}}\n')
    stream.poll()
    assert stream.scalars["loss/total"].y.tolist() == [0.5, 0.25]
    assert stream.malformed == 0


@pytest.mark.parametrize("bulk_bytes", [0, 1 << 40])
def test_bulk_and_incremental_paths_agree(
    tmp_path: Path, bulk_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_stream, "BULK_BYTES", bulk_bytes)
    folder = make_run(tmp_path / "runs", "agree", "completed", max_steps=2000, scalar_every=5)
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    scalars = [e for e in events if e["kind"] == "scalar"]
    assert stream.scalars["loss/total"].y.tolist() == [e["values"]["loss/total"] for e in scalars]
    assert len(stream.evals["pitts30k"]) == sum(
        e["kind"] == "eval" and e["split"] == "pitts30k" for e in events
    )
    assert stream.system["img_per_s"].n == sum(e["kind"] == "system" for e in events)


def test_run_json_is_reread_only_when_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = new_run(tmp_path)
    reads: list[Path] = []
    real = run_stream.read_json
    monkeypatch.setattr(run_stream, "read_json", lambda p: reads.append(p) or real(p))
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    stream.poll()
    assert len(reads) == 1
    info = json.loads((folder / "run.json").read_text())
    info["progress"]["step"] = 500
    write_run_json(folder, info)
    st = os.stat(folder / "run.json")
    os.utime(folder / "run.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**6))
    assert stream.poll()
    assert len(reads) == 2 and stream.current_step() == 500


def test_truncated_events_start_over(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    write_scalars(folder, range(50))
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    (folder / "events.jsonl").unlink()
    write_scalars(folder, range(3))
    stream.poll()
    assert stream.scalars["loss/total"].n == 3


def test_log_tail_keeps_the_last_lines_and_follows_carriage_returns(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    log = folder / "output.log"
    log.write_text("".join(f"line {i}\n" for i in range(500)))
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    tail = stream.snapshot().log
    assert len(tail) == run_stream.LOG_LINES and tail[-1] == "line 499"
    with log.open("a") as f:
        f.write("epoch 1: 10%\repoch 1: 55%\repoch 1: 100%\npartial")
    stream.poll()
    assert stream.snapshot().log[-1] == "epoch 1: 100%"
    with log.open("a") as f:
        f.write(" line\n")
    stream.poll()
    assert stream.snapshot().log[-1] == "partial line"


def test_evals_markers_and_controls(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    with EventWriter(folder / "events.jsonl") as w:
        w.emit("freeze", step=0, phase="warmup", groups={"backbone": False, "head": True})
        w.scalar(10, {"loss/total": 1.0})
        w.emit("eval", step=10, split="tokyo", metrics={"R@1": 50.0, "R@5": "nan"})
        w.emit("control", step=12, id="a", action="set", values={"optim.lr": 5e-5}, status="applied")
        w.emit("control", step=13, id="b", action="set", values={"x": 1}, status="rejected", reason="no")
        w.emit("checkpoint", step=20, path="checkpoints/best.pt", best=True)
        w.emit("eval", step=20, split="tokyo", metrics={"R@1": 55.0})
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    snap = stream.snapshot()
    assert [p.metrics.get("R@1") for p in snap.evals["tokyo"]] == [50.0, 55.0]
    assert math.isnan(snap.evals["tokyo"][0].metrics["R@5"])
    assert [(m.step, m.kind, m.label) for m in snap.markers] == [
        (0, "freeze", "warmup: frozen backbone"),
        (12, "control", "set optim.lr=5e-05"),
        (20, "checkpoint", "best checkpoint"),
    ]
    assert [c["id"] for c in snap.controls] == ["a", "b"]


def test_nan_loss_raises_an_alert(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    write_scalars(folder, range(5))
    with EventWriter(folder / "events.jsonl") as w:
        w.scalar(5, {"loss/total": float("nan"), "loss/ce": float("inf")})
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    alert = stream.alerts()[0]
    assert alert.code == "nan" and alert.level == "error" and "step 5" in alert.message


def test_divergence_alert_compares_smoothed_loss_with_its_minimum(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    with EventWriter(folder / "events.jsonl") as w:
        for s in range(300):
            w.scalar(s, {"loss/total": 1.0})
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    assert not [a for a in stream.alerts() if a.code == "diverge"]
    with EventWriter(folder / "events.jsonl") as w:
        for s in range(300, 600):
            w.scalar(s, {"loss/total": 10.0})
    stream.poll()
    assert [a for a in stream.alerts() if a.code == "diverge"]


def test_stalled_run_alert_after_a_quiet_while(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    write_scalars(folder, range(3))
    old = FROZEN_NOW - 1000
    os.utime(folder / "events.jsonl", (old, old))
    now = [old + 10]
    stream = RunStream(folder, clock=lambda: now[0], stall_after=60)
    stream.poll()
    stream.last_event_t = old
    assert not [a for a in stream.alerts() if a.code == "stall"]
    now[0] = old + 500
    assert [a for a in stream.alerts() if a.code == "stall"]


def test_dead_process_alert_shows_the_error_and_last_log_lines(tmp_path: Path) -> None:
    folder = make_run(
        tmp_path / "runs",
        "boom",
        "failed",
        task="segmentation",
        max_steps=200,
        steps=50,
        error="CUDA out of memory",
    )
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    first = stream.alerts()[0]
    assert first.code == "oom" and "CUDA out of memory" in first.message
    assert first.detail[-1] == "RuntimeError: CUDA out of memory"


def test_vanished_engine_reads_interrupted(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "runs", "ghost", "running", max_steps=200, alive=False)
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    assert stream.status == "interrupted"
    assert stream.alerts()[0].code == "dead"


def test_snapshot_header_numbers(tmp_path: Path) -> None:
    folder = new_run(tmp_path, progress={"step": 100, "max_steps": 1000, "epoch": 2})
    with EventWriter(folder / "events.jsonl") as w:
        w.scalar(100, {"loss/total": 0.5})
        w.system(100, {"img_per_s": 250.0})
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    stream._pace.clear()
    stream._pace.extend([(FROZEN_NOW - 100, 0.0), (FROZEN_NOW, 100.0)])  # one step a second
    snap = stream.snapshot()
    assert (snap.step, snap.max_steps, snap.epoch) == (100, 1000, 2)
    assert snap.system_last("img_per_s") == 250.0
    assert snap.eta == pytest.approx(900.0)
    assert snap.elapsed == pytest.approx(100.0)


def test_paused_status_from_events(tmp_path: Path) -> None:
    folder = new_run(tmp_path)
    with EventWriter(folder / "events.jsonl") as w:
        w.emit("status", step=3, status="paused")
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    assert stream.status == "paused"


def test_parse_numbers_is_exact_or_flags_the_token() -> None:
    from tui.data.json_numbers import parse_numbers, unaligned_words

    good = [
        b"0",
        b"-1",
        b"123",
        b"1.5",
        b"-0.0",
        b"0.00031622776601683794",
        b"1e-05",
        b"1E5",
        b"1e+5",
        b"2.0562061605670863",
        b"1700000000.1234567",
        b"-2.5e-3",
        b"99999999999999999",
        b"123456789.123456789",
    ]
    odd = [
        b"01",
        b"1.",
        b".5",
        b"1.2.3",
        b"1e",
        b"1x",
        b"-",
        b"12345678901234567890",
        b"4.9e-324",
        b"1.7976931348623157e+308",
        b"1234567890123456789012345",
    ]
    buf, ts, te = bytearray(64), [], []
    for token in good + odd:
        ts.append(len(buf))
        buf += token
        te.append(len(buf))
        buf += b","
    buf += bytes(64)
    b = np.frombuffer(bytes(buf), dtype=np.uint8)
    values, redo = parse_numbers(b, unaligned_words(b), np.array(ts), np.array(te))
    for token, value, flagged in zip(good, values.tolist(), redo.tolist()):
        assert (
            not flagged
            and value == float(token)
            and math.copysign(1, value) == math.copysign(1, float(token))
        )
    assert redo[len(good) :].all()


def test_phase_message_reaches_the_header(tmp_path: Path) -> None:
    from tui.widgets.run_header import header_lines

    folder = new_run(tmp_path)
    with EventWriter(folder / "events.jsonl") as w:
        w.emit("phase", phase="caching", message="caching 1,200 / 9,120 images (train)")
    stream = RunStream(folder, clock=frozen_clock)
    stream.poll()
    snap = stream.snapshot()
    assert (snap.phase, snap.phase_message) == ("caching", "caching 1,200 / 9,120 images (train)")
    assert "caching 1,200 / 9,120 images (train)" in header_lines(snap)[1].plain
    with EventWriter(folder / "events.jsonl") as w:
        w.emit("phase", phase="training")
    stream.poll()
    assert stream.snapshot().phase_message is None
