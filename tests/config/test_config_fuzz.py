"""Property-based fuzzing of config resolution: random dotted overrides, values and whole YAML documents.

Every input either resolves to a config the engine can be handed (plain JSON and YAML, finite numbers) or
raises a UserError whose message is one printable line naming a key (or the file, or the override); any
other exception is a crash the console would show as a traceback. Resolution runs in-process (thousands of
examples in seconds); a handful of examples go through the real `labconsole check` for the exit code 2.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from engine.core.config import PRESETS_DIR, dump_config, list_presets, resolve_config
from engine.core.config.validate import coerce
from engine.core.errors import ConfigError, UserError
from engine.core.schedules import validate_schedule

BIN = Path(sys.executable).with_name("labconsole")


def fuzz(examples: int) -> settings:
    """Hypothesis settings of one fuzz test: 2,500 in-process examples in all, about 40 s on 2 busy cores."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def leaf_keys(tree: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a resolved config, sections included (`model`, `model.backbone`, `model.backbone.name`)."""
    if not isinstance(tree, dict):
        return [prefix] if prefix else []
    keys = [prefix] if prefix else []
    for name, value in tree.items():
        keys += leaf_keys(value, f"{prefix}.{name}" if prefix else str(name))
    return keys


def lookup(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


DEMO = resolve_config("demo", check_paths=False)
KNOWN_KEYS = sorted(set(leaf_keys(DEMO)) | {f"{section}.preset" for section in DEMO if section != "name"})
SECTIONS = sorted(k for k in KNOWN_KEYS if isinstance(DEMO.get(k.split(".")[0]), dict) and "." not in k)

IDENTIFIER = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
KNOWN_KEY = st.sampled_from(KNOWN_KEYS)
# one_of picks its branches about evenly: known keys four times out of six, so values get past "unknown key"
DOTTED = st.one_of(
    KNOWN_KEY,
    KNOWN_KEY,
    KNOWN_KEY,
    KNOWN_KEY,
    st.builds(lambda section, leaf: f"{section}.{leaf}", st.sampled_from(SECTIONS), IDENTIFIER),
    st.lists(IDENTIFIER, min_size=1, max_size=4).map(".".join),
)
YAML_SPECIALS = [
    ".nan",
    ".NaN",
    ".inf",
    "-.inf",
    "+.inf",
    "~",
    "null",
    "",
    " ",
    "on",
    "off",
    "yes",
    "no",
    "y",
    "n",
    "true",
    "[",
    "]",
    "{",
    "}",
    "[1, [2, [3]]]",
    "{a: 1}",
    "&a",
    "*a",
    "&a [1, *a]",
    "[&a 1, *a, *a]",
    "!!set {a, b}",
    "!!binary aGk=",
    "!!omap [a: 1]",
    "!!python/object:os.system",
    "!!int 'x'",
    "!!float 1e999",
    "2020-01-01",
    "2020-13-45",
    "2001-12-14t21:59:43.10-05:00",
    "0x1F",
    "0o17",
    "017",
    "1_000",
    "1e400",
    "1e-400",
    "-0",
    "+5",
    ".5",
    "5.",
    "1:30",
    "'quoted'",
    '"',
    "'",
    "|",
    ">",
    "- a",
    "a: b",
    "? x",
    "%YAML 1.1",
    "---",
    "...",
    "<<: *a",
    "\t",
    "\x00",
    "\u2028",
    "\x1b[31m",
    "#comment",
    "@",
    "`",
    "é",
    "名前",
    "😀",
    "9" * 400,
    "-" + "9" * 400,
    "9" * 5000,
    "9" * 400 + ".5",
    str(2**53 + 1),
    str(2**63),
    str(-(2**63) - 1),
    "[" * 2000 + "]" * 2000,
    "{a: " * 500 + "1" + "}" * 500,
]
PLAIN_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(YAML_SPECIALS),
)
PLAIN_DATA = st.recursive(
    PLAIN_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(IDENTIFIER, st.text(max_size=6)), children, max_size=4),
    ),
    max_leaves=12,
)


def as_text(value: Any) -> str:
    """One value as it may be typed after `key=`: YAML flow text, or a number's own spelling."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    try:
        return yaml.safe_dump(value, default_flow_style=True, width=10**9).strip().removesuffix("...").strip()
    except (ValueError, yaml.YAMLError):  # an int beyond Python's 4,300-digit str() limit
        return "0"


PRESET_NAMES = sorted(
    {name for slot in PRESETS_DIR.iterdir() if slot.is_dir() for name in list_presets(slot.name)}
)
#: Values a key may well take, so that many examples resolve and the checks after the first one run too.
PLAUSIBLE = st.one_of(
    st.sampled_from(
        ["0", "1", "2", "4", "0.5", "0.1", "1e-4", "3e-3", "-1", "true", "false", "null", "[48, 64]"]
    ),
    st.sampled_from(
        ["cpu", "auto", "off", "on", "linear", "quadratic", "exponential", "stop", "skip", "/tmp"]
    ),
    st.sampled_from(PRESET_NAMES),
    st.integers(-5, 10**4).map(str),
    st.floats(-1, 2).map(repr),
)
VALUE_TEXT = st.one_of(
    PLAUSIBLE, PLAUSIBLE, st.sampled_from(YAML_SPECIALS), PLAIN_DATA.map(as_text), st.text(max_size=30)
)
KEY_VALUE = st.builds(lambda key, value: f"{key}={value}", DOTTED, VALUE_TEXT)


def value_like(current: Any) -> st.SearchStrategy[str]:
    """Override text of the same kind as a key's current value: most such overrides resolve."""
    if isinstance(current, bool):
        return st.sampled_from(["true", "false"])
    if isinstance(current, int):
        return st.integers(0, 200).map(str)
    if isinstance(current, float):
        return st.floats(0, 1).map(repr)
    if isinstance(current, list):
        return st.sampled_from(["[]", "[32, 48]", "[1, 5]"])
    return PLAUSIBLE


LEAVES = sorted((key, value) for key, value in zip(KNOWN_KEYS, map(lambda k: lookup(DEMO, k), KNOWN_KEYS)))
TYPED_KEY_VALUE = st.sampled_from(LEAVES).flatmap(
    lambda leaf: value_like(leaf[1]).map(lambda text: f"{leaf[0]}={text}")
)
# and now and then any text at all: no '=', a bad key, control characters
OVERRIDE = st.one_of(TYPED_KEY_VALUE, TYPED_KEY_VALUE, KEY_VALUE, KEY_VALUE, KEY_VALUE, st.text(max_size=30))
#: Overrides that make the demo config resolvable without its data, so values get further than data.root.
BASE_OVERRIDES = ["train.max_steps=0", "eval.test_sets=[/tmp]"]


def assert_resolves_or_one_line(source: Any, overrides: list[str]) -> str:
    """Resolve, and check the outcome; returns it as a label for hypothesis' statistics."""
    try:
        cfg = resolve_config(source, overrides, check_paths=False)
    except UserError as exc:
        assert_one_line_naming_a_key(exc, source)
        section = getattr(exc, "key", "").split(".")[0].split("[")[0]
        return f"rejected at {section if section in DEMO else 'an unknown key' if section else 'the file'}"
    # what check prints and run writes: plain YAML and JSON, finite numbers
    json.dumps(cfg, allow_nan=False)
    assert yaml.safe_load(dump_config(cfg)) == cfg
    return "resolved"


def assert_one_line_naming_a_key(exc: UserError, source: Any = None) -> None:
    message = str(exc)
    assert message and message.isprintable() and len(message) < 2000, repr(message)
    if isinstance(exc, ConfigError):
        assert exc.key and message.startswith(f"{exc.key}: "), repr(message)
    else:  # a file, an override or a run preset is named instead
        named = ("config file", "cannot read config file", "bad override", str(source)[:200])
        assert any(message.startswith(what) for what in named), repr(message)


@fuzz(1000)
@given(overrides=st.lists(OVERRIDE, min_size=1, max_size=3), on_base=st.booleans())
def test_fuzz_overrides(overrides: list[str], on_base: bool) -> None:
    event(assert_resolves_or_one_line("demo", (BASE_OVERRIDES if on_base else []) + overrides))


def document_text(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (ValueError, yaml.YAMLError):
        return "name: x\n"


DEMO_TEXT = (Path(__file__).resolve().parents[2] / "presets" / "runs" / "demo.yaml").read_text(
    encoding="utf-8"
)
SECTION_DOCUMENT = st.dictionaries(
    st.one_of(st.sampled_from(list(DEMO)), IDENTIFIER),
    st.one_of(
        PLAIN_DATA,
        st.dictionaries(
            st.one_of(IDENTIFIER, st.sampled_from(["preset", "name", "lr", "min_lr_ratio"])), PLAIN_DATA
        ),
    ),
    max_size=5,
).map(document_text)
MUTATED_DEMO = st.builds(
    lambda at, insert, cut: DEMO_TEXT[:at] + insert + DEMO_TEXT[at + cut :],
    st.integers(0, len(DEMO_TEXT)),
    st.one_of(st.sampled_from(YAML_SPECIALS), st.text(max_size=10)),
    st.integers(0, 20),
)
DOCUMENT = st.one_of(
    SECTION_DOCUMENT,
    MUTATED_DEMO,
    st.text(max_size=200),
    st.sampled_from(YAML_SPECIALS),
    st.binary(max_size=100),
)
FOLDER = Path(tempfile.mkdtemp(prefix="config-fuzz-"))


@fuzz(600)
@given(document=DOCUMENT, overrides=st.lists(OVERRIDE, max_size=2))
def test_fuzz_documents(document: str | bytes, overrides: list[str]) -> None:
    path = FOLDER / "fuzz.yaml"
    path.write_bytes(document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document)
    event(assert_resolves_or_one_line(path, overrides))


@fuzz(400)
@given(data=st.dictionaries(st.one_of(st.sampled_from(list(DEMO)), IDENTIFIER), PLAIN_DATA, max_size=5))
def test_fuzz_mappings(data: dict[str, Any]) -> None:
    """The composer hands resolve_config a mapping, not a file: the same checks apply."""
    event(assert_resolves_or_one_line(data, []))


SCHEDULE_KEYS = ["name", "warmup_steps", "warmup_type", "warmup_lr_start", "min_lr_ratio", "power", "gamma"]
SCHEDULE_KEYS += ["step_size", "milestones", "no_aug_steps", "unknown"]
SCHEDULE_NAMES = ["constant", "cosine", "exponential", "multistep", "poly", "step", "warmcos", "nope"]


@fuzz(500)
@given(
    name=st.sampled_from(SCHEDULE_NAMES),
    params=st.dictionaries(
        st.sampled_from(SCHEDULE_KEYS[1:]), PLAIN_SCALARS | st.lists(st.integers(), max_size=3)
    ),
    max_steps=st.one_of(st.integers(0, 10**6), st.integers(), PLAIN_SCALARS),
    default=st.sampled_from([1.0, 0, None, "linear", []]),
)
def test_fuzz_steering_checks(name: str, params: dict[str, Any], max_steps: Any, default: Any) -> None:
    """What live steering calls: coerce each value, then validate_schedule the changed section."""
    section = {"name": name}
    try:
        for key, value in params.items():
            section[key] = coerce(f"schedule.{key}", value, default)
        validate_schedule(section, max_steps)
    except ConfigError as exc:
        assert_one_line_naming_a_key(exc)
        return
    for value in section.values():
        assert not isinstance(value, float) or math.isfinite(value)


#: One value of each YAML type, and the troublemakers: every known key gets each of them in turn.
SWEEP_VALUES = ["0", "-1", "x", "[]", "[[1]]", "{}", "{a: 1}", "null", "true", ".nan", "1e400", "9" * 30]


def test_sweep_every_known_key_with_every_kind_of_value() -> None:
    """Deterministic companion of the fuzz: all 131 keys × 12 values, ~1,600 resolves (the CLI fuzz found
    `eval.test_sets=0`, which the in-process examples had missed)."""
    for key in KNOWN_KEYS:
        for value in SWEEP_VALUES:
            assert_resolves_or_one_line("demo", [*BASE_OVERRIDES, f"{key}={value}"])


CLI_CASES = st.lists(
    st.builds(lambda key, value: f"{key}={value}", DOTTED, VALUE_TEXT), min_size=1, max_size=2
)


@settings(max_examples=6, deadline=None)
@given(overrides=CLI_CASES)
def test_fuzz_cli_check(overrides: list[str]) -> None:
    """The real `labconsole check` (no model: no torch): exit 0, or 2 with one line on stderr, never a traceback."""
    assume(all(text.isprintable() for text in overrides))  # argv holds no NUL bytes or lone surrogates
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="160")
    done = subprocess.run(
        [str(BIN), "check", "--no-model", "demo", *overrides],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert "Traceback" not in done.stderr, done.stderr
    if done.returncode != 0:
        assert done.returncode == 2 and done.stderr.startswith("labconsole: error: "), done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
