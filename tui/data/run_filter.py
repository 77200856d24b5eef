"""The runs filter language: free words, `status:`, `tag:` (or `#tag`) and `task:` terms, and comparisons
on numbers (`R@1>80`, `mIoU>=45.5`, `step<1000`)."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tui.data.run_index import RunRow

STATUS_CYCLE: tuple[tuple[str, ...], ...] = (
    (),
    ("running", "queued"),
    ("completed",),
    ("failed",),
    ("stopped", "interrupted"),
)
"""The status filters the `f` key steps through (empty = every status)."""

ARCHIVED_TERMS = ("is:archived",)
"""The filter term that shows the archived runs instead of the others."""

_FIELDS = {"status": "status", "s": "status", "is": "status", "tag": "tag", "t": "tag", "task": "task"}

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
# the two-character operators first, so that `R@1>=80` is not read as `R@1>` `=80`
_COMPARISON = re.compile(r"^(?P<name>[^<>=!]*)(?P<op>>=|<=|!=|>|<|=)(?P<value>.*)$")

RUN_NUMBERS: dict[str, Callable[[RunRow], float | None]] = {
    "step": lambda row: row.step,
    "max_steps": lambda row: row.max_steps,
    "best": lambda row: row.metric,
}
"""Numbers of a run that comparisons name directly; any other name is a metric (`best` is the headline one)."""


@dataclass(frozen=True)
class Comparison:
    """`name op value`: a run number (step, max_steps, best), a config column's value, or a metric on the
    run's first test set."""

    name: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value:g}"

    def number_of(self, row: RunRow) -> float | None:
        """The run's number this comparison reads (None when the run has none: it does not match)."""
        reader = RUN_NUMBERS.get(self.name.lower())
        if reader is not None:
            return reader(row)
        if self.name in row.config_values:  # a config column on show (`optim.lr<1e-3`)
            try:
                return float(row.config_values[self.name])
            except ValueError:
                return None
        return first_test_set_metric(row, self.name)

    def matches(self, row: RunRow) -> bool:
        """Whether the run has the number and it compares as asked."""
        number = self.number_of(row)
        return number is not None and _OPERATORS[self.op](number, self.value)


def first_test_set_metric(row: RunRow, name: str) -> float | None:
    """The best value of metric `name` (case-insensitive) on the run's first evaluated test set, the one the
    headline (`best` column) is read from; None when that set has no such metric."""
    for metrics in row.best.values():
        if not metrics:
            continue  # like the headline: a test set without metrics is not the first evaluated one
        wanted = name.lower()
        return next((v for k, v in metrics.items() if k.lower() == wanted), None)
    return None


def parse_comparison(token: str) -> Comparison | str | None:
    """A comparison token as a Comparison, or why it is not one (str); None when the token compares nothing."""
    found = _COMPARISON.match(token)
    if found is None:
        return None
    name, op, text = found["name"], found["op"], found["value"]
    if not name:
        return f"{token}: name a metric or step before {op}"
    try:
        value = float(text)
    except ValueError:
        return f"{token}: {text or 'nothing'} is not a number" + (f" ({name}{op}80, say)" if not text else "")
    if not math.isfinite(value):
        return f"{token}: {text} is not a finite number"
    return Comparison(name, op, value)


@dataclass(frozen=True)
class RunFilter:
    """A parsed filter: every word must match somewhere; each field matches any of its values."""

    words: tuple[str, ...] = ()
    """Free words, matched as case-insensitive substrings of id, name, task, model parts, loss and tags."""
    statuses: tuple[str, ...] = ()
    """Status prefixes (`status:run` keeps running runs)."""
    tags: tuple[str, ...] = ()
    """Tags a run must carry one of (exact, case-insensitive)."""
    tasks: tuple[str, ...] = ()
    """Task prefixes (`task:seg` keeps segmentation runs)."""
    comparisons: tuple[Comparison, ...] = ()
    """Numbers a run must have and satisfy (`R@1>80`, `step<1000`)."""
    archived: bool = False
    """`is:archived`: show the archived runs (and only them); archived runs are hidden otherwise."""
    errors: tuple[str, ...] = ()
    """Why terms that look like comparisons were left out (`R@1>abc`): said in the filter bar."""

    @classmethod
    def parse(cls, text: str) -> RunFilter:
        """Parse `text`; `field:a,b` gives several values, unknown fields count as plain words, a bad
        comparison is left out and named in `errors`."""
        fields: dict[str, list[str]] = {"status": [], "tag": [], "task": []}
        words: list[str] = []
        comparisons: list[Comparison] = []
        errors: list[str] = []
        archived = False
        for original in text.split():
            token = original.lower()
            name, sep, value = token.partition(":")
            comparison = None if sep else parse_comparison(original)
            if token in ARCHIVED_TERMS:
                archived = True
            elif isinstance(comparison, Comparison):
                comparisons.append(comparison)
            elif isinstance(comparison, str):
                errors.append(comparison)
            elif token.startswith("#") and len(token) > 1:
                fields["tag"].append(token[1:])
            elif sep and name in _FIELDS and value:
                fields[_FIELDS[name]].extend(v for v in value.split(",") if v)
            else:
                words.append(token)
        return cls(
            tuple(words),
            tuple(fields["status"]),
            tuple(fields["tag"]),
            tuple(fields["task"]),
            tuple(comparisons),
            archived,
            tuple(errors),
        )

    @property
    def active(self) -> bool:
        """Whether this filter hides anything at all."""
        return bool(
            self.words or self.statuses or self.tags or self.tasks or self.comparisons or self.archived
        )

    def matches(self, row: RunRow) -> bool:
        """Whether `row` passes every term of the filter."""
        if row.archived != self.archived:
            return False
        if not all(c.matches(row) for c in self.comparisons):
            return False
        if self.statuses and not any(row.status.startswith(s) for s in self.statuses):
            return False
        if self.tasks and not any(row.task.lower().startswith(t) for t in self.tasks):
            return False
        tags = {t.lower() for t in row.tags}
        if self.tags and not tags.intersection(self.tags):
            return False
        haystack = " ".join(
            (row.id, row.name, row.task, row.backbone, row.aggregator, row.loss, *row.tags)
        ).lower()
        return all(word in haystack for word in self.words)


def next_status_filter(text: str) -> str:
    """`text` with its status terms replaced by the next entry of STATUS_CYCLE."""
    current = tuple(sorted(RunFilter.parse(text).statuses))
    sorted_cycle = [tuple(sorted(s)) for s in STATUS_CYCLE]
    index = sorted_cycle.index(current) if current in sorted_cycle else 0
    return with_statuses(text, STATUS_CYCLE[(index + 1) % len(STATUS_CYCLE)])


def with_statuses(text: str, statuses: tuple[str, ...]) -> str:
    """`text` with every status term removed and `status:<statuses>` appended (when any)."""
    kept = [t for t in text.split() if not _is_status_term(t)]
    if statuses:
        kept.append("status:" + ",".join(statuses))
    return " ".join(kept)


def _is_status_term(token: str) -> bool:
    """Whether a filter token is a `status:` term."""
    name, sep, value = token.lower().partition(":")
    return bool(sep and value and _FIELDS.get(name) == "status")


def terms_matching_nothing(text: str, rows: Iterable[RunRow]) -> list[str]:
    """The terms of filter `text` that alone keep no run of `rows`, each with a hint when one helps
    ("R@1>95 (the highest is 91.2)", "mAP>50 (no run reports mAP)"); [] when each keeps some run."""
    rows = list(rows)
    blocking: list[str] = []
    for token in text.split():
        term = RunFilter.parse(token)
        if not term.active or any(term.matches(r) for r in rows):
            continue
        hint = ""
        if term.comparisons:
            comparison = term.comparisons[0]
            numbers = [n for n in (comparison.number_of(r) for r in rows) if n is not None]
            if not numbers:
                hint = f" (no run has {comparison.name} yet)"
            elif comparison.op in (">", ">="):
                hint = f" (the highest is {max(numbers):g})"
            elif comparison.op in ("<", "<="):
                hint = f" (the lowest is {min(numbers):g})"
        blocking.append(token + hint)
    return blocking
