"""`key=value` override lines as the launcher and the composer edit them: parsed, and an error's line found."""

from __future__ import annotations

OVERRIDES_HINT = "optim.lr=1e-4\nmodel.backbone.name=resnet50\ntrain.max_steps=2000"
"""Placeholder of the empty overrides editor: what a line looks like."""


def parse_overrides(text: str) -> tuple[list[str], tuple[int, str] | None]:
    """Non-empty, non-comment lines as overrides; a line without '=' is a problem: (its number, why)."""
    overrides = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line or line.startswith("="):
            return [], (number, f"expected key=value, got '{line}'")
        overrides.append(line)
    return overrides, None


def error_line(text: str, key: str) -> int | None:
    """The override line whose key is, contains or lies under the error's dotted `key`."""
    if not key:
        return None
    for number, raw in enumerate(text.splitlines(), start=1):
        name = raw.split("=", 1)[0].strip()
        if name and (name == key or key.startswith(name + ".") or name.startswith(key + ".")):
            return number
    return None
