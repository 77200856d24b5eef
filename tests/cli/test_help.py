"""Guidance for the user: every verb's `--help` (description, arguments, examples) and `set`'s did-you-mean."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli.control_cmds import with_suggestions
from tui.cli.main import build_parser

BIN = Path(sys.executable).with_name("labconsole")


def verb_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every verb's parser, as `labconsole` builds them."""
    parser = build_parser()
    (verbs,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(verbs.choices)


def test_every_verb_has_a_description_its_arguments_and_an_example() -> None:
    parsers = verb_parsers()
    assert {"run", "check", "ls", "show", "compare", "export", "set", "stop", "data"} <= set(parsers)
    for verb, parser in parsers.items():
        text = parser.format_help()
        assert parser.description and parser.description in text, verb
        assert parser.formatter_class is argparse.RawDescriptionHelpFormatter, verb
        lines = text.splitlines()
        heading = next(i for i, line in enumerate(lines) if line.lower().startswith("example"))
        assert lines[heading + 1].strip().startswith(f"labconsole {verb}"), (verb, text)
        positionals = [a for a in parser._actions if not a.option_strings]
        for action in positionals:
            assert (action.metavar or action.dest) in text, (verb, action.dest)


def test_help_through_the_real_binary() -> None:
    done = subprocess.run([str(BIN), "check", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "examples:\n  labconsole check demo" in done.stdout
    assert "a YAML file or a run preset name" in done.stdout
    top = subprocess.run([str(BIN), "--help"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0 and "compare" in top.stdout and "labconsole VERB --help" in top.stdout
    data = subprocess.run([str(BIN), "data", "--help"], capture_output=True, text=True, timeout=60)
    assert data.returncode == 0 and "synth-vpr" in data.stdout  # the data maker's own help, forwarded


SETTABLE = "optim.lr, optim.momentum, optim.weight_decay, train.max_steps, freeze.<group>"


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        (
            f"cannot set optim.momentun; settable: {SETTABLE}",
            f"cannot set optim.momentun (did you mean 'optim.momentum'?); settable: {SETTABLE}",
        ),
        (
            f"cannot set optim.lrr, train.max_stepz; settable: {SETTABLE}",
            "cannot set optim.lrr (did you mean 'optim.lr'?), train.max_stepz (did you mean 'train.max_steps'?)"
            f"; settable: {SETTABLE}",
        ),
        (f"cannot set zzz; settable: {SETTABLE}", f"cannot set zzz; settable: {SETTABLE}"),
        ("optim.lr: expected a number > 0, got -1", "optim.lr: expected a number > 0, got -1"),
    ],
)
def test_set_rejection_suggests_the_closest_settable_key(reason: str, shown: str) -> None:
    assert with_suggestions(reason) == shown
