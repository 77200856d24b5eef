"""Evaluation protocol fingerprints: how a number was measured, and in words how two measurements differ.

A fingerprint is a flat dict of JSON scalars that the engine attaches to every evaluation (eval events,
run.json `fingerprints`, re-evaluations). Two results compare only when their fingerprints agree; `differences`
says what does not ("1,000 vs 740 queries"). Torch-free: the compare CLI and the console read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

DIGEST_HEX = 12
"""Hex digits kept of a sha256 (file lists, class sets): enough to tell sets apart, short enough to show."""

#: Count keys: a differing count reads "1,000 vs 740 queries".
_COUNTS = {
    "database": "database images",
    "queries": "queries",
    "queries_without_positive": "queries without a positive",
    "images": "images",
    "classes": "classes",
}
#: Keys shown as "<label> A vs B<unit>".
_LABELLED = {
    "radius_m": ("radius", " m"),
    "ignore_index": ("ignore index", ""),
    "eval_size": ("eval size", ""),
    "window": ("window", ""),
    "descriptor_dim": ("descriptor dim", ""),
}
#: Digest keys: said only when nothing they summarise differs visibly already.
_DIGESTS = {"files_sha256": "other files", "class_set_sha256": "other class names"}
_ORDER = (
    "set",
    "database",
    "queries",
    "queries_without_positive",
    "images",
    "classes",
    "radius_m",
    "resolution",
    "eval_size",
    "window",
    "ignore_index",
    "descriptor_dim",
)


def digest(names: Iterable[str]) -> str:
    """First DIGEST_HEX hex digits of the sha256 over the sorted names, one per line."""
    text = "\n".join(sorted(str(name) for name in names))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:DIGEST_HEX]


def size_text(size: Any) -> str | None:
    """[H, W] as "HxW" ("224x224"); None for no size."""
    if not size:
        return None
    height, width = (size, size) if isinstance(size, int) else size
    return f"{int(height)}x{int(width)}"


def differences(base: dict[str, Any] | None, other: dict[str, Any] | None) -> list[str]:
    """What makes `other`'s protocol differ from `base`'s, one phrase each ("1,000 vs 740 queries", "radius 25 vs
    10 m", "224x224 vs 320x320"); [] when they agree or either is unknown (results written before fingerprints)."""
    if not isinstance(base, dict) or not isinstance(other, dict) or not base or not other:
        return []
    keys = [k for k in _ORDER if k in base or k in other]
    keys += sorted(k for k in {*base, *other} if k not in _ORDER and k not in _DIGESTS)
    phrases = [_phrase(key, base.get(key), other.get(key)) for key in keys if base.get(key) != other.get(key)]
    phrases = [p for p in phrases if p]
    for key, words in _DIGESTS.items():
        if base.get(key) != other.get(key) and not phrases:
            phrases.append(words)
    return phrases


def _phrase(key: str, a: Any, b: Any) -> str:
    if key == "set":
        return ""  # a renamed copy of the same files is the same protocol: the digest says whether they are
    if key in _COUNTS:
        return f"{_number(a)} vs {_number(b)} {_COUNTS[key]}"
    if key == "resolution":
        return f"{_text(a)} vs {_text(b)}"
    label, unit = _LABELLED.get(key, (key.replace("_", " "), ""))
    return f"{label} {_text(a)} vs {_text(b)}{unit}"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _text(value)
    return f"{value:,}" if isinstance(value, int) or float(value).is_integer() else f"{value:,g}"


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def summary(fingerprint: dict[str, Any] | None) -> str:
    """A short line of a fingerprint for a column or a listing: "500 db · 500 q · 25 m · 48x72 · 256-d · 3f9a…"."""
    if not isinstance(fingerprint, dict) or not fingerprint:
        return "no fingerprint"
    fp = fingerprint
    parts = []
    if "database" in fp:
        parts.append(f"{_number(fp['database'])} db")
    if "queries" in fp:
        unreachable = fp.get("queries_without_positive")
        parts.append(
            f"{_number(fp['queries'])} q" + (f" ({unreachable} w/o positive)" if unreachable else "")
        )
    if "images" in fp:
        parts.append(f"{_number(fp['images'])} img")
    if "classes" in fp:
        parts.append(f"{fp['classes']} classes")
    if "radius_m" in fp:
        parts.append(f"{_text(fp['radius_m'])} m")
    for key in ("resolution", "eval_size"):
        if fp.get(key):
            parts.append(str(fp[key]))
    if fp.get("window"):
        parts.append(f"window {fp['window']}")
    if "descriptor_dim" in fp:
        parts.append(f"{fp['descriptor_dim']}-d")
    if fp.get("files_sha256"):
        parts.append(f"#{str(fp['files_sha256'])[:6]}")
    return " · ".join(parts)
