"""Fault-injection report (issue 17, "hold up under faults and bad input"): random configs, damaged run
folders, garbage control lines, kill -9, a full disk and a killed foreground engine, against the real binary.

Run: .venv/bin/python benchmarks/faults.py   (about a minute on 2 busy cores: tiny CNN runs on a tiny city)

Every row counts the inputs tried, the faults injected, the runs lost (a run that ended failed, vanished,
changed behind our back or cannot go on), the tracebacks (an exception the user would see raw) and the wrong
exit codes.
The goal is no run lost and no traceback; the script exits 1 otherwise.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.core.config import resolve_config
from engine.core.errors import UserError
from engine.core.protocol import effective_status, iter_events, read_json
from engine.data.synth_vpr import make_synth_vpr

BINARY = Path(sys.executable).with_name("labconsole")
ENV = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200")
REPO = Path(__file__).resolve().parents[1]
FINAL_STATUSES = ("completed", "stopped", "failed", "interrupted")
HUNG = 124
"""The exit code reported for a call that had to be timed out (as timeout(1) does): never an allowed one."""


@dataclass
class Row:
    """One line of the report; the columns named in `not_applicable` print as '-'."""

    section: str
    inputs: int = 0
    faults: int = 0
    runs_lost: int = 0
    tracebacks: int = 0
    wrong_exits: int = 0
    notes: list[str] = field(default_factory=list)
    not_applicable: tuple[str, ...] = ()

    def cells(self) -> list[str]:
        counts = ("inputs", "faults", "runs_lost", "tracebacks", "wrong_exits")
        return ["-" if name in self.not_applicable else f"{getattr(self, name):,}" for name in counts]


IN_PROCESS = ("faults", "runs_lost")
"""Config fuzzing injects no fault into a run and has no run to lose."""


# ---------------------------------------------------------------------------------------------- helpers


def labconsole(
    runs: Path, *args: str, timeout: float = 180, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """The real binary, as a user would call it; a hang is reported as exit code HUNG, not an exception."""
    command = [str(BINARY), "--runs-dir", str(runs), *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=ENV, **popen)
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return subprocess.CompletedProcess(command, HUNG, stdout, f"timed out after {timeout} s")


def tiny_overrides(city: Path, steps: int = 4) -> list[str]:
    """The overrides of tests/engine/conftest.py: a plain CNN of width 8, 4 places × 2 images per step."""
    return [
        f"data.root={city}",
        "data.synthetic=false",
        f"train.max_steps={steps}",
        "train.places_per_batch=4",
        "train.images_per_place=2",
        "train.log_every=1",
        "train.eval_every=0",
        "model.backbone.width=8",
        "model.descriptor_dim=32",
        "eval.batch_size=64",
        "device.threads=1",
    ]


def events(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    path = run_dir / "events.jsonl"
    return [e for e in iter_events(path) if e.get("kind") == kind] if path.is_file() else []


def wait_for(predicate: Callable[[], bool], timeout: float = 120.0, poll: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


def status_of(run_dir: Path) -> str:
    try:
        return effective_status(read_json(run_dir / "run.json"))
    except (OSError, ValueError):
        return "unreadable"


def engine_pid(run_dir: Path) -> int | None:
    try:
        pid = read_json(run_dir / "run.json").get("pid")
    except (OSError, ValueError):
        return None
    return pid if isinstance(pid, int) and pid > 0 else None


def kill_if_still_running(run_dir: Path) -> None:
    """A section that gave up must not leave a 100,000-step engine eating the shared cores."""
    pid = engine_pid(run_dir)
    if pid is not None and status_of(run_dir) in ("running", "paused", "queued", "starting"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def tracebacks_in(*texts: str) -> int:
    return sum(text.count("Traceback") for text in texts)


def output_log(run_dir: Path) -> str:
    path = run_dir / "output.log"
    return path.read_text(errors="replace") if path.is_file() else ""


def start_detached(runs: Path, city: Path, steps: int, *extra: str) -> Path:
    started = labconsole(runs, "run", "demo", *tiny_overrides(city, steps), *extra, "--detach")
    if started.returncode != 0:
        raise RuntimeError(f"could not start a detached run: {started.stderr.strip()}")
    return runs / started.stdout.strip().splitlines()[-1]


def folder_digest(folder: Path) -> str:
    """Every file's relative path and bytes: any change to a run folder changes the digest."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# ------------------------------------------------------------------ 1. random config overrides and YAML files

YAML_SPECIALS = [
    ".nan", ".inf", "-.inf", "~", "null", "", " ", "on", "off", "yes", "no", "[", "]", "{", "}", "{a: 1}",
    "[1, [2, [3]]]", "&a [1, *a]", "*a", "!!set {a, b}", "!!binary aGk=", "!!python/object:os.system",
    "!!float 1e999", "2020-13-45", "0x1F", "0o17", "1_000", "1e400", "1e-400", "-0", "1:30", "'", '"', "|",
    "- a", "a: b", "? x", "---", "...", "<<: *a", "\t", "\x00", "\u2028", "\x1b[31m", "#c", "@", "`", "é",
    "名前", "😀", "9" * 400, "-" + "9" * 400, "9" * 5000, str(2**63), "[" * 2000 + "]" * 2000,
]  # fmt: skip
PLAUSIBLE = [
    "0", "1", "2", "4", "0.5", "1e-4", "-1", "true", "false", "null", "[48, 64]", "cpu", "auto", "off", "on",
    "cosine", "linear", "/tmp", "/nonexistent", "resnet18", "netvlad", "adamw",
]  # fmt: skip
TEXT_POOL = "abcxyzABC019_.-=:,[]{}'\"#&*!|>%@ \t\\/é名😀\x1b\u2028"


def config_keys() -> dict[str, Any]:
    """Every dotted key of the resolved demo config (sections too) and its value: most random overrides hit a
    real key, and a value of the current one's kind often gets past the type check to the range checks."""

    def walk(tree: Any, prefix: str) -> Iterator[tuple[str, Any]]:
        if prefix:
            yield prefix, tree
        if isinstance(tree, dict):
            for name, value in tree.items():
                yield from walk(value, f"{prefix}.{name}" if prefix else str(name))

    demo = resolve_config("demo")
    keys = dict(walk(demo, ""))
    keys.update({f"{section}.preset": None for section in demo if section != "name"})
    return dict(sorted(keys.items()))


def value_like(rng: random.Random, current: Any) -> str:
    """Override text of the same kind as a key's current value (edge values included)."""
    if isinstance(current, bool):
        return rng.choice(["true", "false"])
    if isinstance(current, int):
        return str(rng.choice([0, 1, 2, rng.randint(0, 200), -1, 2**31, 10**6]))
    if isinstance(current, float):
        return repr(rng.choice([rng.random(), 0.0, 1.0, rng.uniform(-1, 2), 1e-12, 1e30]))
    if isinstance(current, list):
        return rng.choice(["[]", "[32, 48]", "[1, 5]", "[0, 0]", "[1.5]"])
    return rng.choice(PLAUSIBLE)


def random_text(rng: random.Random, size: int = 12) -> str:
    return "".join(rng.choice(TEXT_POOL) for _ in range(rng.randint(0, size)))


def random_data(rng: random.Random, depth: int = 0) -> Any:
    """A random YAML-able value: scalars of every type (huge, NaN, odd text), lists and mappings."""
    pick = rng.random()
    if depth < 3 and pick < 0.15:
        return [random_data(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 3 and pick < 0.3:
        return {random_text(rng, 6): random_data(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rng.choice(
        [
            None,
            rng.random() < 0.5,
            rng.randint(-5, 10**4),
            rng.choice([10**400, -(10**30), 2**53 + 1]),
            rng.choice([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, rng.uniform(-2, 2)]),
            random_text(rng),
            rng.choice(YAML_SPECIALS),
        ]
    )


def as_flow_text(value: Any) -> str:
    """A value as typed after `key=`: YAML flow text."""
    if isinstance(value, str):
        return value
    try:
        return yaml.safe_dump(value, default_flow_style=True, width=10**9).strip().removesuffix("...").strip()
    except (ValueError, yaml.YAMLError):  # an int beyond Python's str() digit limit
        return "0"


def random_override(rng: random.Random, keys: dict[str, Any]) -> str:
    pick = rng.random()
    if pick < 0.05:
        return random_text(rng, 30)  # no '=' at all, or just noise
    if pick < 0.35:
        key = rng.choice(list(keys))
        return f"{key}={value_like(rng, keys[key])}"
    if pick < 0.75:
        key = rng.choice(list(keys))
    elif pick < 0.9:
        key = f"{rng.choice(list(keys)).split('.')[0]}.{random_text(rng, 8)}"
    else:
        key = rng.choice(["", ".", "a..b", "optim.lr.x", "model[0]", "名前", "optim.", ".lr", "x" * 300])
    value = rng.choice(
        [
            rng.choice(PLAUSIBLE),
            rng.choice(YAML_SPECIALS),
            as_flow_text(random_data(rng)),
            random_text(rng, 30),
        ]
    )
    return f"{key}={value}"


def classify_resolve(source: Any, overrides: list[str], counts: dict[str, int], examples: list[str]) -> None:
    """accepted: a plain, finite config; rejected: a UserError of one printable line; anything else counts."""
    try:
        config = resolve_config(source, overrides)
    except UserError as exc:
        message = str(exc)
        if message and message.isprintable() and "\n" not in message:
            counts["rejected"] += 1
        else:
            counts["wrong"] += 1
            examples.append(f"multi-line or unprintable message for {overrides!r}: {message[:200]!r}")
        return
    except Exception as exc:  # any other exception is what the user would see as a traceback
        counts["traceback"] += 1
        examples.append(f"{type(exc).__name__}: {str(exc)[:160]} for {str(source)[:60]} {overrides!r}"[:400])
        return
    try:
        json.dumps(
            config, allow_nan=False
        )  # what `check` prints and `run` hands the engine must be plain JSON
    except (TypeError, ValueError) as exc:
        counts["wrong"] += 1
        examples.append(f"accepted but not plain JSON ({exc}) for {overrides!r}"[:400])
        return
    counts["accepted"] += 1


def fuzz_overrides(count: int = 2000) -> Row:
    rng = random.Random(0)
    keys = config_keys()
    counts = {"accepted": 0, "rejected": 0, "wrong": 0, "traceback": 0}
    examples: list[str] = []
    for _ in range(count):
        classify_resolve(
            "demo", [random_override(rng, keys) for _ in range(rng.randint(1, 3))], counts, examples
        )
    row = Row("config overrides (random)", count, tracebacks=counts["traceback"], wrong_exits=counts["wrong"])
    row.not_applicable = IN_PROCESS
    row.notes.append(f"{counts['accepted']} accepted, {counts['rejected']} rejected in one line")
    row.notes += examples[:5]
    return row


def random_document(rng: random.Random, demo_text: str) -> bytes:
    pick = rng.random()
    if pick < 0.4:  # the demo preset with a splice: most of it still parses, one spot does not
        at = rng.randint(0, len(demo_text))
        insert = rng.choice([rng.choice(YAML_SPECIALS), random_text(rng, 10), "\n  " + random_text(rng, 10)])
        return (demo_text[:at] + insert + demo_text[at + rng.randint(0, 20) :]).encode("utf-8")
    if pick < 0.75:  # known and unknown sections holding anything
        sections = [
            "task",
            "data",
            "model",
            "loss",
            "optim",
            "schedule",
            "train",
            "eval",
            "device",
            "name",
            "x",
        ]
        document = {
            rng.choice(sections): rng.choice(
                [random_data(rng), {rng.choice(["preset", "lr", "name"]): random_data(rng)}]
            )
            for _ in range(rng.randint(0, 5))
        }
        try:
            return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode("utf-8")
        except (ValueError, yaml.YAMLError):
            return b"name: x\n"
    if pick < 0.9:
        return random_text(rng, 200).encode("utf-8")
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 100)))  # not UTF-8 at all, often


def fuzz_documents(count: int = 500) -> Row:
    rng = random.Random(1)
    keys = config_keys()
    demo_text = (REPO / "presets" / "runs" / "demo.yaml").read_text(encoding="utf-8")
    counts = {"accepted": 0, "rejected": 0, "wrong": 0, "traceback": 0}
    examples: list[str] = []
    with tempfile.TemporaryDirectory(prefix="faults-yaml-") as folder:
        path = Path(folder) / "fuzz.yaml"
        for _ in range(count):
            path.write_bytes(random_document(rng, demo_text))
            # mostly none: the document itself should decide the outcome
            overrides = [random_override(rng, keys)] if rng.random() < 0.3 else []
            classify_resolve(path, overrides, counts, examples)
    row = Row(
        "config files (random YAML)", count, tracebacks=counts["traceback"], wrong_exits=counts["wrong"]
    )
    row.not_applicable = IN_PROCESS
    row.notes.append(f"{counts['accepted']} accepted, {counts['rejected']} rejected in one line")
    row.notes += examples[:5]
    return row


def fuzz_cli_check(count: int = 10) -> Row:
    """The real `check` (--no-model: no torch, ten calls in seconds): exit 0 or 2, never a traceback."""
    rng = random.Random(2)
    keys = config_keys()
    row = Row("labconsole check (random overrides)", count, not_applicable=IN_PROCESS)
    with tempfile.TemporaryDirectory(prefix="faults-check-") as runs:
        tried = 0
        while tried < count:
            overrides = [random_override(rng, keys) for _ in range(rng.randint(1, 2))]
            if not all(text.isprintable() for text in overrides):
                continue  # argv cannot carry NUL bytes
            tried += 1
            done = labconsole(Path(runs), "check", "--no-model", "demo", *overrides, timeout=60)
            row.tracebacks += tracebacks_in(done.stderr, done.stdout)
            if done.returncode not in (0, 2):
                row.wrong_exits += 1
                row.notes.append(f"check {overrides!r} exited {done.returncode}: {done.stderr[-200:]!r}")
            if "Traceback" in done.stderr:
                row.notes.append(f"check {overrides!r}: {done.stderr[-300:]!r}")
    return row


# --------------------------------------------------------------------------- 2. CLI verbs on damaged runs


def edit_run_json(folder: Path, **fields: Any) -> None:
    info = json.loads((folder / "run.json").read_text())
    info.update(fields)
    (folder / "run.json").write_text(
        json.dumps(info)
    )  # json writes NaN as the bare token, as a buggy writer would


def damage_events(folder: Path) -> None:
    with (folder / "events.jsonl").open("a") as handle:
        for line in (
            {"t": 1.0, "kind": "scalar", "step": "x", "values": 5},
            {"t": 1.0, "kind": "system", "step": 3, "values": [1]},
            {"t": 1.0, "kind": "eval", "metrics": None},
            {"t": 1.0, "kind": "eval", "split": "val", "metrics": {"R@1": "high"}},
            {"t": "x", "kind": 5},
            {"t": 1.0, "kind": "resume", "step": None},
            [],
        ):
            handle.write(json.dumps(line) + "\n")
        handle.write('{"t": 1.0, "kind": "sca')  # torn: the writer died mid-line


DAMAGES: dict[str, Callable[[Path], None]] = {
    "not-json": lambda f: (f / "run.json").write_text("{oops"),
    "empty-json": lambda f: (f / "run.json").write_bytes(b""),
    "bad-status": lambda f: edit_run_json(f, status=42),
    "bad-progress": lambda f: edit_run_json(f, progress="x"),
    "bad-best": lambda f: edit_run_json(f, best=[]),
    "nan-started": lambda f: edit_run_json(f, started=float("nan")),
    "markup-name": lambda f: edit_run_json(f, name="exp[/]"),
    "no-config": lambda f: (f / "config.yaml").unlink(),
    "bad-yaml": lambda f: (f / "config.yaml").write_text("a: [\n"),
    "bad-events": damage_events,
    "bad-cols": lambda f: (f / "events.cols").write_bytes(random.Random(3).randbytes(4096)),
    "bad-last-pt": lambda f: (f / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint" * 64),
}


def make_damaged_copy(good: Path, runs: Path, damage: str) -> str:
    run_id = f"{good.name}-{damage}"
    shutil.copytree(good, runs / run_id)
    edit_run_json(runs / run_id, id=run_id)  # the copy is a run of its own, not a second `good`
    DAMAGES[damage](runs / run_id)
    return run_id


def listed_completed(ls_output: str, run_id: str) -> bool:
    """A row of `ls` for exactly this id (the damaged copies' ids start with it), still completed."""
    return any(line.split()[:1] == [run_id] and "completed" in line for line in ls_output.splitlines())


def damaged_run_folders(good: Path, scratch: Path) -> Row:
    """Each damage in a runs folder of its own, next to a copy of the good run: ls, show, compare, export
    and resume on it exit 0, 1 or 2 (resume: 2, the copies are completed or damaged), and the good run stays
    listed and byte-for-byte unchanged."""
    row = Row("CLI verbs on damaged run folders", faults=len(DAMAGES))
    for damage in DAMAGES:
        runs = scratch / f"runs-{damage}"
        runs.mkdir()
        shutil.copytree(good, runs / good.name)
        before = folder_digest(runs / good.name)
        damaged = make_damaged_copy(good, runs, damage)
        verbs = [
            (("show", damaged), (0, 1, 2)),
            (("compare", good.name, damaged), (0, 1, 2)),
            (("export", damaged, "--to", str(scratch / f"export-{damage}"), "--no-plots"), (0, 1, 2)),
            (("resume", damaged), (2,)),
            (("ls",), (0, 1, 2)),
        ]
        for args, allowed in verbs:
            done = labconsole(runs, *args, timeout=120)
            row.inputs += 1
            row.tracebacks += tracebacks_in(done.stderr, done.stdout)
            if "Traceback" in done.stderr:
                row.notes.append(f"{damage}: {' '.join(args)}: {done.stderr.strip()[-400:]!r}")
            if done.returncode not in allowed:
                row.wrong_exits += 1
                row.notes.append(
                    f"{damage}: {args[0]} exited {done.returncode}: {done.stderr.strip()[-200:]!r}"
                )
            if args == ("ls",) and not listed_completed(done.stdout, good.name):
                row.runs_lost += 1
                row.notes.append(f"{damage}: ls does not list the good run: {done.stdout[-300:]!r}")
        if folder_digest(runs / good.name) != before:
            row.runs_lost += 1
            row.notes.append(f"{damage}: the good run's files changed")
    return row


# ---------------------------------------------------------------------- 3. control lines into a live engine

BAD_VALUES = [
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 400, "-" + "9" * 400, "-1", "-0.5", '"fast"',
    '""', "null", "[]", "{}", '{"a": 1}', "[1e999]",
]  # fmt: skip
SETTABLE_KEYS = [
    "optim.lr", "optim.lr_scale", "train.max_steps", "schedule.warmup_steps", "schedule.min_lr_ratio",
    "freeze.backbone", "freeze.nope", "loss.weight.nope", "optim.momentun", "", "名前",
]  # fmt: skip


def control_line(rng: random.Random, index: int) -> tuple[bytes, int]:
    """One raw line for control.jsonl and how many answers the engine owes for it.

    No value here is valid for train.max_steps (a small one would end the run completed instead of stopped).
    """
    cid = f"fault-{index:03d}"
    values = ", ".join(
        f"{json.dumps(rng.choice(SETTABLE_KEYS))}: {rng.choice(BAD_VALUES)}" for _ in range(rng.randint(1, 2))
    )
    command = f'{{"id": "{cid}", "t": 1.0, "action": "set", "values": {{{values}}}}}'
    pick = rng.random()
    if pick < 0.55:
        return (command + "\n").encode(), 1
    if pick < 0.7:  # a writer that died mid-line, then one that did not end the fragment first
        fragment = command[: rng.randint(1, len(command) - 1)]
        return (fragment + command + "\n").encode(), 2
    if pick < 0.8:
        return (rng.choice(["{oops", "[1, 2]", "42", '"set"', "{", "}" * 50, "[" * 5000]) + "\n").encode(), 1
    if pick < 0.9:
        action = rng.choice(["explode", "", "SET", None, 5])
        return (json.dumps({"id": cid, "action": action, "values": {}}) + "\n").encode(), 1
    noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 80))).replace(b"\n", b"")
    # owed as the engine reads it: decoded with replacement, blank (after str.strip) lines are not commands
    return noise + b"\n", 1 if noise.decode("utf-8", "replace").strip() else 0


def control_lines_into_live_engine(city: Path, scratch: Path, count: int = 100) -> Row:
    row = Row("control lines into a live engine", count, faults=count)
    runs = scratch / "runs-control"
    run_dir = start_detached(runs, city, 100_000)
    try:
        if not wait_for(lambda: bool(events(run_dir, "scalar"))):
            raise RuntimeError(f"no scalar event within 120 s (status {status_of(run_dir)})")
        rng = random.Random(4)
        owed = 0
        fd = os.open(run_dir / "control.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            for index in range(count):
                line, answers = control_line(rng, index)
                os.write(fd, line)
                owed += answers
        finally:
            os.close(fd)
        answered = wait_for(lambda: len(events(run_dir, "control")) >= owed, timeout=60)
        got = len(events(run_dir, "control"))
        row.notes.append(
            f"{count} lines owed {owed} answers, {got} came" + ("" if answered else " (gave up)")
        )
        if not answered or got != owed:
            row.wrong_exits += 1  # an unanswered line: `set` would hang on it
        applied = [e for e in events(run_dir, "control") if e.get("status") == "applied"]
        if applied:
            row.notes.append(f"applied (harmless) values: {[e.get('values') for e in applied][:3]}")
        steer = labconsole(runs, "set", run_dir.name, "optim.lr=0.001", timeout=60)
        stop = labconsole(runs, "stop", run_dir.name, timeout=120)
        for verb, done in (("set", steer), ("stop", stop)):
            row.tracebacks += tracebacks_in(done.stderr, done.stdout)
            if done.returncode != 0 or (verb == "set" and "applied" not in done.stdout):
                row.wrong_exits += 1
                row.notes.append(
                    f"{verb} exited {done.returncode}: {(done.stdout + done.stderr).strip()[-300:]!r}"
                )
        wait_for(lambda: status_of(run_dir) in FINAL_STATUSES, timeout=60)
        row.tracebacks += tracebacks_in(output_log(run_dir))
        status, checkpoint = status_of(run_dir), (run_dir / "checkpoints" / "last.pt").is_file()
        row.notes.append(f"run ended {status}, last.pt {'written' if checkpoint else 'MISSING'}")
        if status != "stopped" or not checkpoint:
            row.runs_lost += 1
    finally:
        kill_if_still_running(run_dir)
    return row


# ------------------------------------------------------------------------- 4. kill -9 after an evaluation


def kill_9_then_resume(city: Path, scratch: Path) -> Row:
    row = Row("kill -9 after an evaluation, resume", 1, faults=1)
    runs = scratch / "runs-kill"
    run_dir = start_detached(runs, city, 200, "train.eval_every=10")
    try:
        # poll fast: at ~30 steps/s the run must be caught long before its 200th step
        if not wait_for(
            lambda: any(
                isinstance(e.get("step"), int) and e["step"] > 0 for e in events(run_dir, "checkpoint")
            ),
            poll=0.05,
        ):
            raise RuntimeError(f"no checkpoint after step 0 within 120 s (status {status_of(run_dir)})")
        pid = engine_pid(run_dir)
        assert pid is not None, "run.json names no engine pid"
        os.kill(pid, signal.SIGKILL)
        saved = max(e["step"] for e in events(run_dir, "checkpoint"))
        if not wait_for(lambda: status_of(run_dir) == "interrupted", timeout=30):
            row.notes.append(f"after kill -9 the run shows {status_of(run_dir)}, not interrupted")
        resumed = labconsole(runs, "resume", run_dir.name, timeout=300)
        row.tracebacks += tracebacks_in(resumed.stderr, resumed.stdout, output_log(run_dir))
        if resumed.returncode != 0:
            row.wrong_exits += 1
            row.notes.append(f"resume exited {resumed.returncode}: {resumed.stderr.strip()[-300:]!r}")
        resume_steps = [e.get("step") for e in events(run_dir, "resume")]
        status = status_of(run_dir)
        row.notes.append(
            f"killed after the checkpoint at step {saved}; resumed at {resume_steps}, ended {status}"
        )
        if (
            status != "completed"
            or not resume_steps
            or not all(isinstance(s, int) and s >= saved for s in resume_steps)
        ):
            row.runs_lost += 1
    finally:
        kill_if_still_running(run_dir)
    return row


# --------------------------------------------------------------------------- 5. full disk at a checkpoint


def limit_file_size() -> None:
    """A disk of 64 KB per file: events and run.json fit, a checkpoint does not (EFBIG, no SIGXFSZ)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def full_disk_at_a_checkpoint(city: Path, scratch: Path) -> Row:
    """The run fails in one line naming the cause; its run.json says failed and no temp file is left behind.

    data.workers=0: workers pass batches through shared-memory files, which the limit would break first.
    """
    row = Row("full disk (RLIMIT_FSIZE) at a checkpoint", 1, faults=1)
    runs = scratch / "runs-disk"
    args = ("run", "demo", *tiny_overrides(city, 6), "data.cache=off", "data.workers=0")
    done = labconsole(runs, *args, timeout=300, preexec_fn=limit_file_size)
    row.tracebacks += tracebacks_in(done.stderr, done.stdout)
    said_why = "could not write checkpoint" in done.stderr and "File too large" in done.stderr
    if done.returncode != 1 or not said_why:
        row.wrong_exits += 1
        row.notes.append(f"full disk: exit {done.returncode}, stderr {done.stderr.strip()[-300:]!r}")
    run_dirs = [p for p in runs.iterdir() if p.is_dir()] if runs.is_dir() else []
    if len(run_dirs) != 1:
        row.runs_lost += 1
        row.notes.append(f"full disk: {len(run_dirs)} run folders")
        return row
    run_dir = run_dirs[0]
    row.tracebacks += tracebacks_in(output_log(run_dir))
    temp_files = list(run_dir.rglob("*.tmp"))
    status = status_of(run_dir)
    row.notes.append(f"full disk: exit {done.returncode}, run {status}, {len(temp_files)} temp files left")
    if status != "failed" or temp_files:
        row.runs_lost += 1  # a run that lies about its end, or litters its folder
    return row


# ------------------------------------------------------------------- 6. a foreground run's engine killed


def foreground_engine_killed(city: Path, scratch: Path) -> Row:
    """The CLI waiting on its engine exits 1 and names the signal; the run shows interrupted, not running."""
    row = Row("foreground run, engine killed -9", 1, faults=1)
    runs = scratch / "runs-foreground"
    runs.mkdir()
    command = [str(BINARY), "--runs-dir", str(runs), "run", "demo", *tiny_overrides(city, 100_000)]
    cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    run_dir: Path | None = None
    try:

        def scalars_started() -> bool:
            nonlocal run_dir
            run_dir = next((p for p in runs.iterdir() if p.is_dir()), None)
            return run_dir is not None and bool(events(run_dir, "scalar"))

        if not wait_for(scalars_started):
            raise RuntimeError("no scalar event within 120 s")
        assert run_dir is not None
        pid = engine_pid(run_dir)
        assert pid is not None, "run.json names no engine pid"
        os.kill(pid, signal.SIGKILL)
        out, err = cli.communicate(timeout=60)
        row.tracebacks += tracebacks_in(out, err)
        if cli.returncode != 1 or "killed by SIGKILL" not in err:
            row.wrong_exits += 1
            row.notes.append(f"foreground: exit {cli.returncode}, stderr {err.strip()[-300:]!r}")
        status = status_of(run_dir)
        row.notes.append(f"foreground: exit {cli.returncode}, run shows {status}")
        if status != "interrupted":
            row.runs_lost += 1
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        if run_dir is not None:
            kill_if_still_running(run_dir)
    return row


# -------------------------------------------------------------------------------------------------- main


def good_finished_run(city: Path, scratch: Path) -> Path:
    runs = scratch / "runs-good"
    done = labconsole(runs, "run", "demo", *tiny_overrides(city), timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"the good run failed: {done.stderr.strip()[-400:]}")
    return runs / done.stdout.strip().splitlines()[-1]


def guarded(section: str, make_row: Callable[[], Row]) -> Row:
    """A section that could not play out its scenario is a finding too: one lost run, with the reason."""
    try:
        return make_row()
    except Exception as exc:  # reported in the table, the other sections still run
        why = f"could not finish: {type(exc).__name__}: {exc}"
        return Row(section, runs_lost=1, notes=[why], not_applicable=("faults", "wrong_exits"))


COLUMNS = ("inputs tried", "faults injected", "runs lost", "tracebacks", "wrong exit codes")


def table_line(row: Row) -> str:
    return f"  {row.section:<42}" + "".join(
        f"{text:>{len(name) + 3}}" for text, name in zip(row.cells(), COLUMNS)
    )


def total_row(rows: list[Row]) -> Row:
    total = Row("total")
    for name in ("inputs", "faults", "runs_lost", "tracebacks", "wrong_exits"):
        setattr(total, name, sum(getattr(row, name) for row in rows if name not in row.not_applicable))
    return total


def print_report(rows: list[Row], seconds: float) -> None:
    today = datetime.date.today().isoformat()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    print(f"labconsole faults · {today} · python {python} · {os.cpu_count()} cpus")
    print(f"  {'section':<42}" + "".join(f"{name:>{len(name) + 3}}" for name in COLUMNS))
    for row in [*rows, total_row(rows)]:
        print(table_line(row))
    total = total_row(rows)
    verdict = "met" if total.runs_lost == 0 and total.tracebacks == 0 else "NOT met"
    print(
        f"goal: runs lost 0, tracebacks 0 · here: runs lost {total.runs_lost}, tracebacks {total.tracebacks}"
    )
    print(f"goal {verdict} · {seconds:.0f} s")
    notes = [f"  {row.section}: {note}" for row in rows for note in row.notes]
    if notes:
        print("notes:")
        print("\n".join(notes))


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="labconsole-faults-") as folder:
        scratch = Path(folder)
        city = scratch / "city"
        make_synth_vpr(
            city, seed=0, train_places=40, views_per_place=4, database_size=60, queries_per_split=30
        )
        rows = [
            guarded("config overrides (random)", fuzz_overrides),
            guarded("config files (random YAML)", fuzz_documents),
            guarded("labconsole check (random overrides)", fuzz_cli_check),
        ]
        rows += [
            guarded(
                "CLI verbs on damaged run folders",
                lambda: damaged_run_folders(good_finished_run(city, scratch), scratch),
            ),
            guarded(
                "control lines into a live engine", lambda: control_lines_into_live_engine(city, scratch)
            ),
            guarded("kill -9 after an evaluation, resume", lambda: kill_9_then_resume(city, scratch)),
            guarded(
                "full disk (RLIMIT_FSIZE) at a checkpoint", lambda: full_disk_at_a_checkpoint(city, scratch)
            ),
            guarded("foreground run, engine killed -9", lambda: foreground_engine_killed(city, scratch)),
        ]
    print_report(rows, time.monotonic() - started)
    return 1 if any(r.runs_lost for r in rows) or any(r.tracebacks for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
