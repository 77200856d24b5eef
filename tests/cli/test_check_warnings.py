"""`labconsole check` prints config warnings on stderr and keeps exit code 0 (and lists them in --json)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import tiny_overrides
from tests.cli.test_cli_e2e import labconsole


def test_check_warns_on_stderr_with_exit_code_zero(tiny_city: Path) -> None:
    overrides = [*tiny_overrides(tiny_city), "freeze=frozen_backbone", "model.image_size=[32, 32]"]
    done = labconsole("check", "demo", *overrides, "--json", runs=tiny_city, timeout=90)
    assert done.returncode == 0, done.stderr
    warnings = json.loads(done.stdout)["warnings"]
    assert any("not pretrained" in w for w in warnings)
    assert any("feature map is 2×2" in w for w in warnings), warnings
    assert "warning: the backbone (plain_cnn) is frozen" in done.stderr and "Traceback" not in done.stderr


def test_check_without_warnings_prints_none(tiny_city: Path) -> None:
    done = labconsole("check", "demo", *tiny_overrides(tiny_city), "--no-model", runs=tiny_city, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "warning:" not in done.stderr and "config OK" in done.stderr
