"""The runs filter language: free words plus `status:`, `tag:` (or `#tag`) and `task:` terms."""

from __future__ import annotations

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

_FIELDS = {"status": "status", "s": "status", "is": "status", "tag": "tag", "t": "tag", "task": "task"}


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

    @classmethod
    def parse(cls, text: str) -> RunFilter:
        """Parse `text`; `field:a,b` gives several values, unknown fields count as plain words."""
        fields: dict[str, list[str]] = {"status": [], "tag": [], "task": []}
        words: list[str] = []
        for token in text.lower().split():
            name, sep, value = token.partition(":")
            if token.startswith("#") and len(token) > 1:
                fields["tag"].append(token[1:])
            elif sep and name in _FIELDS and value:
                fields[_FIELDS[name]].extend(v for v in value.split(",") if v)
            else:
                words.append(token)
        return cls(tuple(words), tuple(fields["status"]), tuple(fields["tag"]), tuple(fields["task"]))

    @property
    def active(self) -> bool:
        """Whether this filter hides anything at all."""
        return bool(self.words or self.statuses or self.tags or self.tasks)

    def matches(self, row: RunRow) -> bool:
        """Whether `row` passes every term of the filter."""
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
