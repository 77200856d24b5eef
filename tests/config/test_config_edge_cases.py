"""Bad input to config resolution: each case is one line naming the key (or the file), never a traceback.

`labconsole check` and `labconsole run` both call `resolve_config`, so what it rejects neither accepts; a few
cases go through the real CLI to see the line and the exit code 2.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.config import resolve_config
from engine.core.config.overrides import parse_override
from engine.core.config.validate import MAX_VALUES, coerce
from engine.core.errors import ConfigError, UserError
from engine.core.schedules import validate_schedule

BIN = Path(sys.executable).with_name("labconsole")
BIG = "9" * 400


def error_of(source: object = "demo", overrides: tuple[str, ...] = ()) -> UserError:
    """The UserError resolving `source` with `overrides` raises; its message must be one line."""
    with pytest.raises(UserError) as caught:
        resolve_config(source, list(overrides), check_paths=False)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message and "\n" not in message and len(message) < 1000, message
    return caught.value


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("optim.lr=.nan", "optim.lr: expected a finite number, got nan"),
        ("optim.lr=.inf", "optim.lr: expected a finite number, got inf"),
        ("optim.lr=-.inf", "optim.lr: expected a finite number, got -inf"),
        ("optim.lr=1e400", "optim.lr: expected a finite number, got inf"),
        ("optim.momentum=.nan", "optim.momentum: expected a finite number, got nan"),
        ("schedule.min_lr_ratio=1000", "schedule.min_lr_ratio: expected a number in [0.0, 1.0], got 1000"),
        ("augment.noise=.inf", "augment.noise: expected a finite number, got inf"),
        ("schedule.warmup_lr_start=.nan", "schedule.warmup_lr_start: expected a finite number, got nan"),
        ("optim.lr=0", "optim.lr: the base LR must be in (0, 100], got 0"),
        ("optim.lr=1000", "optim.lr: the base LR must be in (0, 100], got 1000"),
        ("optim.lr_per_img=10", "optim.lr_per_img: the base LR must be in (0, 100], got 1280"),
        ("schedule.warmup_type=nope", "schedule.warmup_type: 'nope' is not allowed"),
        ("schedule.warmup_steps=-1", "schedule.warmup_steps: expected an integer >= 0, got -1"),
        (f"optim.lr={BIG}", "optim.lr: number too large (integers must fit in 64 bits"),
        (
            f"train.seed={BIG}",
            "train.seed: number too large (integers must fit in 64 bits, ±2^63), got a 400-digit",
        ),
        (f"train.max_steps={BIG}.5", "train.max_steps: a number of 402 characters is too long"),
        ("train.max_steps=" + "9" * 5000, "train.max_steps: a number of 5000 characters is too long"),
        (
            "data.synthetic_seed=2020-13-45",
            "data.synthetic_seed: cannot read '2020-13-45': month must be in 1..12",
        ),
        (
            "description=2020-01-01",
            "description: expected a string, number, true/false, null, list or mapping",
        ),
        ("model.image_size=" + "[" * 10_000 + "]" * 10_000, "model.image_size: nested too deeply"),
        (
            "model.image_size=" + "[" * 100 + "]" * 100,
            "model.image_size[0]" + "[0]" * 32 + ": nested deeper than 32",
        ),
    ],
)
def test_bad_values_are_one_line_naming_the_key(override: str, expected: str) -> None:
    assert str(error_of("demo", (override,))).startswith(expected)


def test_schedule_switched_to_one_without_a_parameter() -> None:
    error = error_of({"schedule": {"preset": "step", "name": "cosine"}})
    assert str(error).startswith("schedule.step_size: not a parameter of the cosine schedule; it takes: ")


def test_schedule_overflowing_a_float_is_caught_at_resolve_time() -> None:
    error = error_of("demo", ("schedule.preset=exponential", "schedule.gamma=2", "train.max_steps=5000"))
    assert str(error) == "schedule.gamma: the LR factor at step 4999 is too large for a float"


def test_integers_above_2_to_53_stay_exact() -> None:
    """A float() of the override text rounded 2^53 + 1 down to 2^53; ints are read as ints now."""
    cfg = resolve_config("demo", ["train.seed=9007199254740993"], check_paths=False)
    assert cfg["train"]["seed"] == 2**53 + 1
    assert parse_override("train.seed=-9007199254740993") == (["train", "seed"], -(2**53) - 1)
    assert parse_override("optim.lr=3e-4") == (["optim", "lr"], 3e-4)  # floats still read as floats


def test_set_reads_values_with_the_same_checks() -> None:
    """`labconsole set` parses with parse_override before anything reaches the engine."""
    for value, expected in ((BIG, "number too large"), (".nan", "finite"), ("[" * 5000, "nested too deeply")):
        with pytest.raises(ConfigError, match=rf"^optim\.lr: .*{expected}"):
            parse_override(f"optim.lr={value}")


def test_coerce_refuses_non_finite_and_oversized_numbers() -> None:
    assert coerce("optim.lr", 3, 1.0) == 3.0 and isinstance(coerce("optim.lr", 3, 1.0), float)
    assert coerce("train.max_steps", 2**53 + 1, 0) == 2**53 + 1
    cases = [
        (math.nan, 1.0, "expected a finite number, got nan"),
        (-math.inf, 1.0, "expected a finite number, got -inf"),
        (math.nan, None, "expected a finite number, got nan"),  # no default type to check against
        (10**400, 1.0, "expected a number, got a 401-digit integer, too large for a float"),
        (2**63, 0, "number too large (integers must fit in 64 bits, ±2^63), got 9223372036854775808"),
        ("fast", 1.0, "expected a number, got 'fast'"),
    ]
    for value, default, expected in cases:
        with pytest.raises(ConfigError) as caught:
            coerce("schedule.power", value, default)
        assert str(caught.value) == f"schedule.power: {expected}"


def test_validate_schedule() -> None:
    validate_schedule({"name": "cosine", "min_lr_ratio": 0.1, "warmup_steps": 5}, 100)
    validate_schedule({"name": "poly", "power": 2.0}, 0)  # an evaluation-only run
    cases = [
        (
            {"name": "cosine", "min_lr_ratio": math.nan},
            10,
            "schedule.min_lr_ratio: expected a number in [0.0, 1.0]",
        ),
        ({"name": "poly", "power": math.inf}, 10, "schedule.power: expected a number in (0.0, inf), got inf"),
        ({"name": "step", "gamma": 1.5, "step_size": 1}, 10**6, "schedule.gamma: the LR factor at step"),
        (
            {"name": "constant", "warmup_steps": 10**30},
            10,
            "schedule.warmup_steps: expected an integer <= 2^53",
        ),
        ({"name": "constant", "warmup_type": "cubic"}, 10, "schedule.warmup_type: 'cubic' is not allowed"),
        ({"name": "cosine", "power": 1.0}, 10, "schedule.power: not a parameter of the cosine schedule"),
        ({"name": ["cosine"]}, 10, "schedule.name: unknown LR schedule \"['cosine']\""),
        ({"name": "cosine"}, -1, "train.max_steps: expected an integer in [0, 2^53], got -1"),
    ]
    for section, max_steps, expected in cases:
        with pytest.raises(ConfigError) as caught:
            validate_schedule(section, max_steps)
        assert str(caught.value).startswith(expected), caught.value


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def test_non_utf8_file(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.yaml", "name: caf\xe9\n".encode("latin-1"))
    assert str(error_of(path)) == f"{path} line 1: not UTF-8 text (byte 0xe9); save it as UTF-8"


def test_deeply_nested_file(tmp_path: Path) -> None:
    path = write(tmp_path / "deep.yaml", "tags: " + "[" * 10_000 + "]" * 10_000)
    assert str(error_of(path)) == f"{path}: not valid YAML (nested too deeply)"
    path = write(tmp_path / "deep_blocks.yaml", "".join("  " * i + f"k{i}:\n" for i in range(200)))
    assert str(error_of(path)).startswith(f"{path}: k0.k1.k2.")


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = write(tmp_path / "laughs.yaml", "\n".join(lines) + "\n")
    assert str(error_of(path)) == (
        f"{path}: config: more than {MAX_VALUES:,} values (YAML aliases expanding?); a config holds a few hundred"
    )
    shared: list = ["lol"] * 10
    for _ in range(9):
        shared = [shared] * 10
    assert "more than" in str(error_of({"tags": shared}))  # an in-memory mapping is checked before deepcopy


def test_small_aliases_still_work(tmp_path: Path) -> None:
    path = write(
        tmp_path / "anchors.yaml",
        "name: anchors\nmodel: {backbone: plain_cnn, image_size: &size [48, 64]}\neval: {image_size: *size}\n",
    )
    cfg = resolve_config(
        path, ["data.root=/tmp", "train.max_steps=0", "eval.test_sets=[/tmp]"], check_paths=False
    )
    assert cfg["eval"]["image_size"] == [48, 64]


def test_yaml_types_beyond_plain_data(tmp_path: Path) -> None:
    for text, expected in (
        ("tags: !!set {a, b}", "tags: expected a string, number, true/false, null, list or mapping, got {"),
        (
            "description: !!binary aGk=",
            "description: expected a string, number, true/false, null, list or mapping, got b'hi'",
        ),
        ("2020-01-01: x", "config: a key must be a string or a number, got datetime.date(2020, 1, 1)"),
        (
            "seed: " + "1" * 5000,
            "not valid YAML (Exceeds the limit (4300 digits) for integer string conversion",
        ),
        ("optim: {lr: .nan}", "optim.lr: expected a finite number, got nan"),
    ):
        path = write(tmp_path / "typed.yaml", text + "\n")
        assert str(error_of(path)).startswith(f"{path}: {expected}"), text


def test_unusable_paths(tmp_path: Path) -> None:
    long_name = "a" * 5000
    assert str(error_of(long_name)).startswith("cannot read config file 'aaaaaaaaaaaaaaaa")
    assert str(error_of(long_name)).endswith("': File name too long")
    assert str(error_of("demo\0.yaml")).startswith(
        "config file not found: 'demo\\x00.yaml' (or name a run preset"
    )
    assert str(error_of("../runs/demo")).startswith("config file not found: ../runs/demo")
    base = {"train": {"max_steps": 0}, "eval": {"test_sets": ["/tmp"]}}
    with pytest.raises(ConfigError, match="^data.root: cannot use the path '/aaaaa.*': File name too long$"):
        resolve_config({**base, "data": {"root": "/" + long_name}})
    with pytest.raises(ConfigError, match=r"^data.root: cannot use the path 'x\\x00y': embedded null byte$"):
        resolve_config({**base, "data": {"root": "x\0y"}})
    with pytest.raises(ConfigError, match=r"^eval.test_sets\[0\].path: cannot use the path"):
        resolve_config({"train": {"max_steps": 0}, "eval": {"test_sets": ["/" + long_name]}})


def test_preset_names_are_file_stems() -> None:
    error = error_of("demo", ("model.backbone=../runs/demo",))
    assert str(error).startswith("model.backbone.preset: unknown backbone preset '../runs/demo'; allowed: ")


def test_line_breaks_in_keys_and_values_are_escaped() -> None:
    assert str(error_of({"optim": {"lr\nx": 1}})).startswith("optim.lr\\nx: unknown key")
    assert str(error_of("demo", ("device.amp='on\u2028off'",))).startswith(
        "device.amp: 'on\\u2028off' is not allowed"
    )


def test_every_preset_still_resolves() -> None:
    for name in ("demo", "seg_demo", "cls_demo"):
        resolve_config(name, check_paths=False)
    for preset in ("constant", "cosine", "exponential", "multistep", "poly", "step", "warmcos"):
        resolve_config("demo", [f"schedule={preset}"], check_paths=False)


def labconsole(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="160")
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("check", "demo", "optim.lr=.nan"), "optim.lr: expected a finite number, got nan"),
        (
            ("check", "demo", "schedule.min_lr_ratio=1000"),
            "schedule.min_lr_ratio: expected a number in [0.0, 1.0]",
        ),
        (("check", "demo", f"train.seed={BIG}"), "train.seed: number too large"),
        (("check", "a" * 5000), "cannot read config file 'aaaaa"),
        (("run", "demo", "augment.noise=.inf"), "augment.noise: expected a finite number, got inf"),
    ],
)
def test_cli_prints_one_line_and_exits_2(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    done = labconsole("--runs-dir", str(tmp_path), *args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"labconsole: error: {expected}") and done.stderr.count("\n") == 1, (
        done.stderr
    )
    assert not any(tmp_path.iterdir())  # nothing was created for a bad config
