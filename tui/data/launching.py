"""How the console validates and launches a run: resolve a config torch-free, then start the engine detached."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.core.errors import ConfigError, UserError
from tui.format import fmt_count

VALIDATE_DELAY = 0.3
"""Seconds of quiet typing before a launch surface resolves its config again."""

Source = str | dict[str, Any]
"""What `resolve_config` reads: a run preset name, a config file path, or a raw config mapping."""


@dataclass(frozen=True)
class Resolved:
    """A config resolved for launching, or why it cannot be launched."""

    cfg: dict[str, Any] | None = None
    """The resolved config (None when invalid)."""
    key: str = ""
    """The dotted key of the error ('' when valid or not tied to a key)."""
    error: str = ""
    """The error message without its key ('' when valid)."""
    lr: tuple[tuple[int, float], ...] = ()
    """(step, LR) over the run."""

    @property
    def ok(self) -> bool:
        """Whether the config resolved."""
        return self.cfg is not None

    @property
    def problem(self) -> str:
        """The error as one line, its key first (`optim.lr: expected a number, got 'abc'`)."""
        return f"{self.key}: {self.error}" if self.key else self.error


def resolve(source: Source, overrides: Sequence[str] = ()) -> Resolved:
    """Resolve `source` with `overrides` and its LR curve (a bad schedule fails here, not in the engine).

    Torch-free and a few milliseconds, so screens call it on the UI thread; never raises.
    """
    from engine.core.config import resolve_config
    from tui.data.composer_config import lr_points

    try:
        cfg = resolve_config(source, list(overrides))
        return Resolved(cfg, lr=tuple(lr_points(cfg)))
    except ConfigError as exc:
        return Resolved(key=exc.key, error=exc.message)
    except UserError as exc:
        return Resolved(error=str(exc))


def summarize(cfg: dict[str, Any]) -> str:
    """'vpr · resnet50 · gem · multi_similarity · 2,000 steps · cpu' from a resolved config."""

    def name(section: Any) -> str:
        return str(section.get("name", "?")) if isinstance(section, dict) else str(section)

    model = cfg.get("model", {})
    parts = [
        name(cfg.get("task")),
        name(model.get("backbone")),
        name(model.get("aggregator")),
        name(cfg.get("loss")),
    ]
    steps = cfg.get("train", {}).get("max_steps")
    if isinstance(steps, int):
        parts.append(f"{fmt_count(steps)} steps" if steps else "evaluate only")
    device = cfg.get("device", {})
    if isinstance(device, dict) and device.get("name"):
        amp = device.get("amp")
        parts.append(str(device["name"]) + (f" {amp}" if amp and amp != "off" else ""))
    return " · ".join(parts)


@dataclass(frozen=True)
class LaunchRequest:
    """What to launch: the arguments of `engine.core.launch.launch_run`."""

    source: Source
    """The config: a run preset name, a file, or a raw mapping (the composer's)."""
    overrides: tuple[str, ...] = ()
    """`key=value` lines applied over the source."""
    name: str | None = None
    """The run's name (None: the config's)."""
    argv: tuple[str, ...] = ()
    """The command line recorded in run.json (how the run was started)."""


@dataclass(frozen=True)
class LaunchOutcome:
    """A started run's folder, or why the engine refused the config or could not start."""

    run_dir: Path | None = None
    """The new run folder (None when the launch failed)."""
    failure: Resolved | None = None
    """Why it failed, in the shape of a validation error (with the key when a ConfigError named one)."""


def launch(request: LaunchRequest, runs_dir: Path) -> LaunchOutcome:
    """Validate again, create the run folder and start the engine detached; blocking (call it from a thread worker).

    The engine's data check runs in a subprocess first, so this takes a moment. Never raises for what a user
    can meet: a refused config, a data folder the engine cannot read, an engine that cannot start.
    """
    from engine.core import launch as core_launch

    try:
        paths = core_launch.launch_run(
            request.source,
            list(request.overrides),
            runs_dir=runs_dir,
            name=request.name,
            argv=list(request.argv),
        )
    except ConfigError as exc:
        return LaunchOutcome(failure=Resolved(key=exc.key, error=exc.message))
    except UserError as exc:
        return LaunchOutcome(failure=Resolved(error=str(exc)))
    except subprocess.TimeoutExpired as exc:
        return LaunchOutcome(
            failure=Resolved(error=f"the engine's data check did not answer in {exc.timeout:.0f} s")
        )
    except OSError as exc:
        return LaunchOutcome(failure=Resolved(error=f"cannot start the engine: {exc}"))
    return LaunchOutcome(run_dir=paths.root)


_NUMBERED = re.compile(r"^(?P<stem>.*?)-(?P<number>\d+)$")
"""A run name ending in `-<n>` (a clone's)."""


def run_names(runs_dir: Path) -> set[str]:
    """The names recorded in the run.json files under `runs_dir` (unreadable ones skipped)."""
    names = set()
    for run_json in Path(runs_dir).glob("*/run.json"):
        try:
            name = json.loads(run_json.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(name, str):
            names.add(name)
    return names


def fresh_run_name(name: str, taken: set[str]) -> str:
    """`name-2`, `name-3`, ...: the first not in `taken` (a clone of `name-2` becomes `name-3`, not `name-2-2`)."""
    match = _NUMBERED.match(name)
    stem, number = (match["stem"], int(match["number"])) if match else (name, 1)
    while True:
        number += 1
        candidate = f"{stem}-{number}"
        if candidate not in taken:
            return candidate


def composed_config_path(raw: dict[str, Any]) -> Path:
    """Write a composed config to `$XDG_CACHE_HOME/labconsole/composed/<name>-<hash>.yaml` and return it.

    Named by its content, so launching the same composition twice reuses one file. The run folder's config.yaml
    holds the resolved config too; this file is what `labconsole run <file>` re-reads to repeat the run.
    """
    text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", str(raw.get("name") or "run")).strip("-.")[:60] or "run"
    path = home / "labconsole" / "composed" / f"{stem}-{digest}.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path


def composed_argv(raw: dict[str, Any]) -> tuple[str, ...]:
    """The command that repeats a composed run: `labconsole run <composed config file>` (composed_config_path)."""
    try:
        return ("labconsole", "run", str(composed_config_path(raw)))
    except OSError:
        return ("labconsole", "compose")  # nowhere to keep the file: at least say where the run came from
