"""Steering never kills a run: every `set` value is checked as the config is, rejected with the reason, and
the run goes on; raw control lines of any shape are answered; a checkpoint that cannot be written never
replaces a good one."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import checkpoint as checkpoint_module
from engine.checkpoint import CheckpointWriteError, load_checkpoint, save_checkpoint
from engine.core.errors import UserError
from engine.core.protocol import ControlReader, iter_events, send_control
from tests.engine.test_freeze_steering import _trainer

BAD_VALUES = [
    ("schedule.min_lr_ratio", -1, "schedule.min_lr_ratio"),
    ("schedule.min_lr_ratio", 1000, "schedule.min_lr_ratio"),
    ("schedule.warmup_type", "bogus", "schedule.warmup_type"),
    ("schedule.warmup_steps", -5, "schedule.warmup_steps"),
    ("optim.lr", 1e308, "optim.lr"),
    ("optim.lr", 10**400, "optim.lr"),
    ("optim.lr", math.nan, "optim.lr"),
    ("optim.lr", math.inf, "optim.lr"),
    ("optim.lr", -1e-3, "optim.lr"),
    ("optim.lr_scale", 1e300, "optim.lr_scale"),
    ("optim.lr_scale", 0, "optim.lr_scale"),
    ("train.max_steps", 10**400, "train.max_steps"),
    ("train.max_steps", 1.5, "train.max_steps"),
    ("loss.weight.multi_similarity", math.nan, "loss.weight.multi_similarity"),
    ("loss.weight.multi_similarity", -2, "loss.weight.multi_similarity"),
]


MIXED_LOSS = (
    "loss={name: mix, components: [{name: multi_similarity, weight: 1.0}, {name: triplet, weight: 0.5}]}"
)


@pytest.fixture
def trainer(tmp_path: Path, tiny_city: Path):  # type: ignore[no-untyped-def]
    return _trainer(tmp_path / "runs", tiny_city, 4, MIXED_LOSS)


def _answers(trainer) -> list[dict]:  # type: ignore[no-untyped-def]
    trainer.events.flush()
    return [e for e in iter_events(trainer.paths.events) if e["kind"] == "control"]


@pytest.mark.parametrize(("key", "value", "named"), BAD_VALUES)
def test_a_bad_value_is_rejected_with_its_key_and_changes_nothing(trainer, key, value, named) -> None:  # type: ignore[no-untyped-def]
    before = (trainer.schedule.base_lr, dict(trainer.schedule.schedule), trainer.max_steps)
    actions = trainer.steering.handle([{"id": "x", "action": "set", "values": {key: value}}], trainer.step)
    [answer] = _answers(trainer)
    assert actions == [] and answer["status"] == "rejected" and named in answer["reason"], answer
    assert (trainer.schedule.base_lr, dict(trainer.schedule.schedule), trainer.max_steps) == before


def test_a_command_with_one_bad_key_applies_none(trainer) -> None:  # type: ignore[no-untyped-def]
    lr = trainer.schedule.base_lr
    trainer.steering.handle(
        [{"id": "x", "action": "set", "values": {"optim.lr": 0.5, "schedule.min_lr_ratio": -1}}], 0
    )
    assert trainer.schedule.base_lr == lr and _answers(trainer)[0]["status"] == "rejected"


def test_an_unterminated_fragment_does_not_swallow_the_next_command(tmp_path: Path) -> None:
    control = tmp_path / "control.jsonl"
    control.write_bytes(b'{"id": "torn", "action": "se')
    command_id = send_control(control, "set", {"optim.lr": 0.01})
    commands = ControlReader(control).poll()
    assert [c.get("error") is not None for c in commands] == [True, False]
    assert commands[1]["id"] == command_id and commands[1]["values"] == {"optim.lr": 0.01}


def test_a_fragment_glued_to_a_command_by_an_old_writer_is_split(tmp_path: Path) -> None:
    control = tmp_path / "control.jsonl"
    whole = json.dumps({"id": "abc", "action": "eval", "values": {}})
    control.write_text('{"id": "torn", "act' + whole + "\n")
    first, second = ControlReader(control).poll()
    assert "error" in first and second["id"] == "abc" and second["action"] == "eval"


JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
VALUES = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
KEYS = st.sampled_from(
    [
        "optim.lr",
        "optim.lr_scale",
        "train.max_steps",
        "schedule.min_lr_ratio",
        "schedule.warmup_steps",
        "schedule.warmup_type",
        "schedule.name",
        "freeze.backbone",
        "freeze.head",
        "freeze.-1",
        "loss.weight.x",
        "optim.momentum",
        "",
        "train",
        "a.b.c",
    ]
) | st.text(max_size=12)
RAW_LINES = st.one_of(
    st.builds(lambda k, v: json.dumps({"id": "f", "action": "set", "values": {k: v}}), KEYS, VALUES),
    st.builds(
        lambda a: json.dumps({"id": "f", "action": a}),
        st.text(max_size=8) | st.sampled_from(["stop!", "set"]),
    ),
    st.text(max_size=60).map(lambda t: t.replace("\n", " ")),
    st.just('{"id": "deep", "action": "set", "values": ' + "[" * 5000 + "]" * 5000 + "}"),
)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=st.lists(RAW_LINES, min_size=1, max_size=3))
def test_fuzzed_control_lines_are_answered_and_never_break_the_loop(trainer, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
    before = trainer.steering.reader.offset
    with open(trainer.paths.control, "a") as control:
        control.write("".join(line + "\n" for line in lines))
    commands = trainer.steering.read()
    assert trainer.steering.reader.offset > before
    trainer.steering.handle([c for c in commands if c.get("action") != "set" or c.get("error")], trainer.step)
    for command in commands:
        if command.get("action") == "set" and not command.get("error"):
            trainer.steering.handle([command], trainer.step)
    lr = trainer.schedule.base_lr
    assert math.isfinite(lr) and 0 < lr <= 100
    trainer.schedule.apply(trainer.step)  # the applied schedule still evaluates


def test_fuzzed_steering_then_training_completes(trainer) -> None:  # type: ignore[no-untyped-def]
    with open(trainer.paths.control, "a") as control:
        for index, (key, value, _) in enumerate(BAD_VALUES):
            control.write(json.dumps({"id": f"bad{index}", "action": "set", "values": {key: value}}) + "\n")
        control.write('{"id": "n", "action": "set", "values": {"optim.lr": NaN}}\n')
        control.write('{"id": "i", "action": "set", "values": {"optim.lr": 1e999}}\n')
        control.write('{"id": "b", "action": "set", "values": {"optim.lr": ' + "9" * 400 + "}}\n")
    assert trainer.train() == "completed"
    answers = _answers(trainer)
    assert len(answers) == len(BAD_VALUES) + 3 and all(a["status"] == "rejected" for a in answers)


def test_a_failed_checkpoint_write_keeps_the_previous_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, {"step": 1})

    def torn_save(state, target) -> None:  # type: ignore[no-untyped-def]
        target.write(b"half a checkpoint")
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")

    monkeypatch.setattr(checkpoint_module.torch, "save", torn_save)
    with pytest.raises(CheckpointWriteError, match=r"could not write checkpoint .*last\.pt"):
        save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 1 and not list(path.parent.glob("*.tmp"))


def test_a_run_whose_periodic_checkpoint_fails_trains_on_and_fails_at_the_end(
    trainer, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    def no_space(state, target) -> None:  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    trainer.train_cfg.eval_every = 2  # a periodic save at step 2, then the final one
    monkeypatch.setattr(checkpoint_module.torch, "save", no_space)
    assert trainer.train() == "failed"
    assert trainer.step == 4 and "No space left on device" in trainer.failure
    trainer.events.flush()
    alerts = [e for e in iter_events(trainer.paths.events) if e.get("code") == "checkpoint_failed"]
    assert len(alerts) >= 2


def test_last_pt_is_written_at_every_evaluation_by_default(tmp_path: Path, tiny_city: Path) -> None:
    trainer = _trainer(tmp_path / "runs", tiny_city, 4, "train.eval_every=2")
    assert trainer.train_cfg.checkpoint_every == 0 and trainer.train_cfg.checkpoint_minutes == 10.0
    saves: list[int] = []
    original = trainer.save
    trainer.save = lambda which, required=True: (saves.append(trainer.step), original(which, required))  # type: ignore[method-assign]
    assert trainer.train() == "completed"
    assert 2 in saves and torch.load(trainer.paths.checkpoints / "last.pt", weights_only=True)["step"] == 4


def test_last_pt_is_written_by_the_clock(tmp_path: Path, tiny_city: Path) -> None:
    trainer = _trainer(tmp_path / "runs", tiny_city, 4, "train.checkpoint_minutes=0.000001")
    trainer.train()
    trainer.events.flush()
    steps = [e["step"] for e in iter_events(trainer.paths.events) if e["kind"] == "checkpoint"]
    assert steps[:3] == [1, 2, 3]


class _Smuggled:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (print, ("this ran",))


def test_a_pickled_object_is_refused_without_advice_to_turn_the_safety_off(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"model": _Smuggled()}, path)
    with pytest.raises(UserError) as refused:
        load_checkpoint(path)
    message = str(refused.value)
    assert "pickled Python object (print)" in message and "weights_only" not in message
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match=r"corrupt or not a torch file") as corrupt:
        load_checkpoint(tmp_path / "garbage.pt")
    assert "weights_only" not in str(corrupt.value)


def test_a_run_whose_events_cannot_be_written_ends_failed_naming_the_cause(trainer) -> None:  # type: ignore[no-untyped-def]
    class FullDisk:
        def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
            self.real = real

        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.real, name)

    trainer.events.flush()
    trainer.events._file = FullDisk(trainer.events._file)
    trainer.events.flush_interval = 0.01
    trainer.train_cfg.log_every = 1
    original = trainer.task.next_batch

    def slow_batch():  # type: ignore[no-untyped-def]
        import time

        time.sleep(0.05)  # the writer thread meets the full disk between steps
        return original()

    trainer.task.next_batch = slow_batch
    trainer.max_steps = trainer.schedule.max_steps = 50
    assert trainer.train() == "failed"
    assert trainer.step < 50 and trainer.failure.endswith("events.jsonl: No space left on device")


def test_epochs_count_every_accumulated_batch(tmp_path: Path, tiny_city: Path) -> None:
    plain = _trainer(tmp_path / "a", tiny_city, 4)
    accumulated = _trainer(tmp_path / "b", tiny_city, 4, "train.grad_accum_steps=2")
    assert accumulated.steps_per_epoch == pytest.approx(plain.steps_per_epoch / 2)
    plain.step = accumulated.step = 3
    assert accumulated.epoch() == pytest.approx(2 * plain.epoch(), abs=1e-3)
