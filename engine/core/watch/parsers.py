"""Output-line parsers for watched commands: a preset (presets/parsers/<name>.yaml) of regular expressions turned
into training scalars, evaluation tables and progress.

A preset holds `rules`, each a `pattern` searched in every line; its named groups say where the line is:
`epoch` (with `last_epoch`: the number of the last epoch), `iter` and `iters` (batches in an epoch), or `step` and
`max_steps`; `value` with `metric`. `values` (groups `key` and `value`) then collects every pair after the match.
`{num}` in any regex stands for a number (1, -0.5, 1.2e-05, nan). Kinds:
    train    scalars at the line's step; their names go through `renames` ([regex, replacement] pairs, first
             full match wins); keys matching `eval_keys` (groups `split`, `name`) form an eval of that split,
             recorded when its values change (a progress bar repeats them on every update).
    eval     metrics of `split` (default val) at the step of the last training line; `block: true` gathers
             lines (a COCO summary) until a training line, a repeated metric, the end, or `IDLE_FLUSH_S` quiet.
    context  named groups remembered for later rules' templates (`{section}` in a `metric`).
`metric` is a template over the groups (and `key` of `values`), looked up in `metric_names`; `scale` multiplies
eval values (fractions → percent; with `scale_only`, only the keys matching those globs) and `min` drops smaller
ones (COCO prints -1 for an empty area). `keep` and `skip` (globs) choose the keys of `values`.
Parsing a line costs one `search` per rule: the regexes are compiled once, when the preset loads.
"""

from __future__ import annotations

import fnmatch
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from engine.core.config.presets import list_presets, load_preset
from engine.core.errors import UserError, unknown_choice

__all__ = [
    "AUTO",
    "AutoParser",
    "LineParser",
    "Reading",
    "load_parser",
    "make_parser",
    "parser_names",
]

AUTO = "auto"
"""The parser name that picks a preset by the first lines matching one's `detect` pattern."""
FALLBACK = "keyvalue"
"""What `auto` settles on when no preset's `detect` matched within `AUTO_LOOKAHEAD_LINES`."""
AUTO_LOOKAHEAD_LINES = 300
AUTO_LOOKAHEAD_S = 20.0
IDLE_FLUSH_S = 2.0
"""A gathered eval block is recorded once no line of it came for this long (a summary arrives all at once)."""

NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_KINDS = ("train", "eval", "context")
_PROGRESS_GROUPS = ("epoch", "last_epoch", "iter", "iters", "step", "max_steps")


@dataclass
class Reading:
    """What one line (or a gathered block) said: scalars at `step`, evaluations by split, progress."""

    step: int
    scalars: dict[str, float] = field(default_factory=dict)
    evals: dict[str, dict[str, float]] = field(default_factory=dict)
    epoch: float | None = None
    max_steps: int | None = None


def parser_names() -> list[str]:
    """The parsers `--parser` accepts: every preset in presets/parsers (and the user's), and `auto`."""
    return sorted({*list_presets("parsers"), AUTO})


def load_parser(name: str) -> LineParser:
    """The preset `name` compiled; UserError naming the parsers there are when it is unknown or malformed."""
    if name not in list_presets("parsers"):
        raise UserError(unknown_choice("parser", name, parser_names()))
    return LineParser(name, load_preset("parsers", name, "parser"))


def make_parser(name: str) -> LineParser | AutoParser:
    """`load_parser(name)`, or an AutoParser over every preset for `auto`."""
    if name == AUTO:
        return AutoParser([load_parser(n) for n in list_presets("parsers")])
    return load_parser(name)


def _regex(preset: str, where: str, text: Any) -> re.Pattern[str]:
    if not isinstance(text, str):
        raise UserError(f"parser {preset}: {where} must be a regular expression (text), got {text!r}")
    try:
        return re.compile(text.replace("{num}", f"(?:{NUMBER})"))
    except re.error as exc:
        raise UserError(f"parser {preset}: {where} is not a valid regular expression: {exc}") from None


@dataclass
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    values: re.Pattern[str] | None
    keep: tuple[str, ...]
    skip: tuple[str, ...]
    metric: str | None
    split: str
    block: bool
    scale: float
    scale_only: tuple[str, ...]
    minimum: float | None
    eval_keys: re.Pattern[str] | None
    step_keys: tuple[str, ...]
    epoch_key: str | None
    wanted: dict[str, bool] = field(default_factory=dict)
    """Key → whether keep/skip let it through, decided once per key."""


class LineParser:
    """One preset, compiled; `feed` each output line, `tick` now and then, `finish` at the end."""

    def __init__(self, name: str, preset: dict[str, Any]) -> None:
        self.name = name
        self.task = str(preset.get("task") or "custom")
        """The run's task when this parser is chosen (detection for YOLOX's and mmdet's lines)."""
        self.detect = _regex(name, "detect", preset["detect"]) if preset.get("detect") else None
        self.epoch_base = int(preset.get("epoch_base", 1))
        self.renames = [(_regex(name, "renames", a), str(b)) for a, b in preset.get("renames") or []]
        self.metric_names = {str(k): str(v) for k, v in (preset.get("metric_names") or {}).items()}
        rules = preset.get("rules")
        if not isinstance(rules, list) or not rules:
            raise UserError(f"parser {name}: `rules` must be a list of at least one rule")
        self.rules = [self._rule(i, r) for i, r in enumerate(rules)]
        self.step = 0
        """The step of the last training line (evaluations are recorded at it)."""
        self._lines_counted = 0
        self._context: dict[str, str] = {}
        self._pending: dict[str, dict[str, float]] = {}
        self._pending_since = 0.0
        self._last_evals: dict[str, dict[str, float]] = {}
        self._last_scalars: tuple[int, dict[str, float]] | None = None
        self._renamed: dict[str, str] = {}

    def _rule(self, index: int, spec: Any) -> _Rule:
        where = f"rules[{index}]"
        if not isinstance(spec, dict) or "pattern" not in spec:
            raise UserError(f"parser {self.name}: {where} must be a mapping with a `pattern`")
        kind = spec.get("kind", "train")
        if kind not in _KINDS:
            raise UserError(f"parser {self.name}: {where}.kind: {unknown_choice('kind', str(kind), _KINDS)}")
        values = spec.get("values")
        eval_keys = spec.get("eval_keys")
        minimum = spec.get("min")
        return _Rule(
            kind=kind,
            pattern=_regex(self.name, f"{where}.pattern", spec["pattern"]),
            values=_regex(self.name, f"{where}.values", values) if values else None,
            keep=tuple(str(k) for k in spec.get("keep") or ()),
            skip=tuple(str(k) for k in spec.get("skip") or ()),
            metric=str(spec["metric"]) if spec.get("metric") else None,
            split=str(spec.get("split") or "val"),
            block=bool(spec.get("block", False)),
            scale=float(spec.get("scale", 1.0)),
            scale_only=tuple(str(k) for k in spec.get("scale_only") or ()),
            minimum=float(minimum) if minimum is not None else None,
            eval_keys=_regex(self.name, f"{where}.eval_keys", eval_keys) if eval_keys else None,
            step_keys=tuple(str(k) for k in spec.get("step_keys") or ()),
            epoch_key=str(spec["epoch_key"]) if spec.get("epoch_key") else None,
        )

    # -- feeding ------------------------------------------------------------------------------------------------
    def feed(self, line: str) -> list[Reading]:
        """The readings of one output line (usually none or one)."""
        if "\x1b" in line:
            line = _ANSI.sub("", line)
        for rule in self.rules:
            match = rule.pattern.search(line)
            if match is None:
                continue
            if rule.kind == "context":
                self._context.update({k: v for k, v in match.groupdict().items() if v is not None})
                return []
            if rule.kind == "eval":
                return self._eval_line(rule, match, line)
            readings = self._train_line(rule, match, line)
            if readings is not None:
                return readings
        return []

    def tick(self, now: float | None = None) -> list[Reading]:
        """A gathered eval block that went quiet, as a reading (call it when no line came for a while)."""
        now = time.monotonic() if now is None else now
        if self._pending and now - self._pending_since >= IDLE_FLUSH_S:
            return self._flush()
        return []

    def finish(self) -> list[Reading]:
        """What is still gathered, at the end of the output."""
        return self._flush()

    def _flush(self) -> list[Reading]:
        if not self._pending:
            return []
        pending, self._pending = self._pending, {}
        return [Reading(step=self.step, evals=pending)]

    # -- training lines -----------------------------------------------------------------------------------------
    def _train_line(self, rule: _Rule, match: re.Match[str], line: str) -> list[Reading] | None:
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        pairs = self._pairs(rule, line, match.end())
        if rule.values is not None and not pairs and not rule.pattern.groupindex:
            return None  # a catch-all rule (key=value) on a line without a pair
        step, epoch, max_steps = self._progress(rule, groups, pairs)
        scalars: dict[str, float] = {}
        evals: dict[str, dict[str, float]] = {}
        for key, value in pairs.items():
            eval_match = rule.eval_keys.fullmatch(key) if rule.eval_keys is not None else None
            if eval_match is not None:
                split = eval_match.groupdict().get("split") or rule.split
                evals.setdefault(split, {})[eval_match.group("name")] = value
            else:
                scalars[self._scalar_name(key)] = value
        if step is None:
            if not scalars:
                return None  # nothing to place on a step
            self._lines_counted += 1
            step = self._lines_counted
        readings = self._flush()
        self.step = max(self.step, step)
        changed = {s: m for s, m in evals.items() if self._last_evals.get(s) != m}
        self._last_evals.update(changed)
        if scalars and self._last_scalars == (step, scalars):
            scalars = {}  # a progress bar redrawn without news
        elif scalars:
            self._last_scalars = (step, scalars)
        readings.append(Reading(step=step, scalars=scalars, evals=changed, epoch=epoch, max_steps=max_steps))
        return readings

    def _pairs(self, rule: _Rule, line: str, start: int) -> dict[str, float]:
        if rule.values is None:
            return {}
        pairs: dict[str, float] = {}
        for found in rule.values.finditer(line, start):
            key = found.group("key")
            wanted = rule.wanted.get(key)
            if wanted is None:
                wanted = rule.wanted[key] = not (
                    (rule.keep and not any(fnmatch.fnmatchcase(key, k) for k in rule.keep))
                    or any(fnmatch.fnmatchcase(key, k) for k in rule.skip)
                )
            if not wanted:
                continue
            try:
                pairs[key] = float(found.group("value"))
            except ValueError:
                continue
        return pairs

    def _progress(
        self, rule: _Rule, groups: dict[str, str], pairs: dict[str, float]
    ) -> tuple[int | None, float | None, int | None]:
        """(step, epoch as passes over the data, max_steps) from the line's groups or its step/epoch pairs."""
        numbers = {k: int(groups[k]) for k in _PROGRESS_GROUPS if k in groups}
        for key in rule.step_keys:
            if key in pairs:
                numbers.setdefault("step", int(pairs.pop(key)))
        if rule.epoch_key and rule.epoch_key in pairs:
            numbers.setdefault("epoch", int(pairs.pop(rule.epoch_key)))
        if "step" in numbers:
            epoch = float(numbers["epoch"] - self.epoch_base) if "epoch" in numbers else None
            return numbers["step"], epoch, numbers.get("max_steps")
        if "iter" in numbers and "iters" in numbers and "epoch" in numbers:
            iters = max(1, numbers["iters"])
            done = numbers["epoch"] - self.epoch_base
            max_steps = (
                (numbers["last_epoch"] + 1 - self.epoch_base) * iters if "last_epoch" in numbers else None
            )
            return done * iters + numbers["iter"], done + numbers["iter"] / iters, max_steps
        if "iter" in numbers:
            return numbers["iter"], None, numbers.get("iters")
        return None, None, None

    def _scalar_name(self, key: str) -> str:
        name = self._renamed.get(key)
        if name is None:
            name = key
            for pattern, replacement in self.renames:
                found = pattern.fullmatch(key)
                if found is not None:
                    name = found.expand(replacement)
                    break
            self._renamed[key] = name
        return name

    # -- evaluation lines ---------------------------------------------------------------------------------------
    def _eval_line(self, rule: _Rule, match: re.Match[str], line: str) -> list[Reading]:
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        split = self._fill(rule.split, groups) or rule.split
        raw: list[tuple[str, str | None, float]] = []  # (key as printed, metric name, value)
        if "value" in groups and rule.metric:
            raw.append(("", self._metric_name(rule.metric, groups), float(groups["value"])))
        for key, value in self._pairs(rule, line, match.end()).items():
            raw.append((key, self._metric_name(rule.metric or "{key}", {**groups, "key": key}), value))
        metrics = {
            name: _rounded(value * self._scale(rule, key))
            for key, name, value in raw
            if name is not None and math.isfinite(value) and (rule.minimum is None or value >= rule.minimum)
        }
        if not metrics:
            return []
        if not rule.block:
            readings = self._flush()
            readings.append(Reading(step=self.step, evals={split: metrics}))
            return readings
        readings = []
        if any(name in self._pending.get(split, {}) for name in metrics):
            readings = self._flush()  # a second evaluation right after the first (another split or epoch)
        self._pending.setdefault(split, {}).update(metrics)
        self._pending_since = time.monotonic()
        return readings

    @staticmethod
    def _scale(rule: _Rule, key: str) -> float:
        if rule.scale_only and not any(fnmatch.fnmatchcase(key, k) for k in rule.scale_only):
            return 1.0
        return rule.scale

    def _fill(self, template: str, groups: dict[str, str]) -> str | None:
        """`template` with the groups (and remembered context) filled in; None when one is missing."""
        if "{" not in template:
            return template
        try:
            return template.format(**{**self._context, **groups})
        except (KeyError, IndexError, ValueError):
            return None

    def _metric_name(self, template: str, groups: dict[str, str]) -> str | None:
        name = self._fill(template, groups)
        return None if name is None else self.metric_names.get(name, name)


def _rounded(value: float) -> float:
    return round(value, 4)


class AutoParser:
    """Picks a preset by the first line matching one's `detect`; until then lines wait (a few hundred, or
    `AUTO_LOOKAHEAD_S`), then `keyvalue` reads them."""

    def __init__(self, parsers: list[LineParser]) -> None:
        # the fallback's detect is the loosest (YOLOX's lines hold key: value pairs too): it is tried last
        self._candidates = sorted(
            (p for p in parsers if p.detect is not None), key=lambda p: p.name == FALLBACK
        )
        self._fallback = next((p for p in parsers if p.name == FALLBACK), None)
        self.chosen: LineParser | None = None
        """The preset in use, once decided."""
        self._waiting: list[str] = []
        self._since = time.monotonic()

    @property
    def name(self) -> str:
        return self.chosen.name if self.chosen is not None else AUTO

    @property
    def task(self) -> str:
        return self.chosen.task if self.chosen is not None else "custom"

    def feed(self, line: str) -> list[Reading]:
        if self.chosen is not None:
            return self.chosen.feed(line)
        for parser in self._candidates:
            if parser.detect is not None and parser.detect.search(line):
                return self._choose(parser, [*self._waiting, line])
        self._waiting.append(line)
        if len(self._waiting) >= AUTO_LOOKAHEAD_LINES:
            return self._give_up()
        return []

    def tick(self, now: float | None = None) -> list[Reading]:
        if self.chosen is not None:
            return self.chosen.tick(now)
        if self._waiting and (time.monotonic() if now is None else now) - self._since >= AUTO_LOOKAHEAD_S:
            return self._give_up()
        return []

    def finish(self) -> list[Reading]:
        readings = self._give_up() if self.chosen is None else []
        return readings + (self.chosen.finish() if self.chosen is not None else [])

    def _give_up(self) -> list[Reading]:
        if self._fallback is None:
            self._waiting.clear()
            return []
        return self._choose(self._fallback, self._waiting)

    def _choose(self, parser: LineParser, lines: list[str]) -> list[Reading]:
        self.chosen, self._waiting = parser, []
        return [reading for line in lines for reading in parser.feed(line)]
