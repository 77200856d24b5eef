"""Which evaluated sets validate (choose the best checkpoint, early stopping) and which only test (torch-free)."""

from __future__ import annotations

from typing import Any

VAL, TEST = "val", "test"
"""Roles of an evaluated set, as eval events and run.json `roles` carry them."""


def evaluated_sets(cfg: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Every set an evaluation measures, validation sets first, each with its role."""
    evaluation = cfg["eval"]
    return [(entry, VAL) for entry in evaluation.get("val_sets") or []] + [
        (entry, TEST) for entry in evaluation.get("test_sets") or []
    ]


def split_roles(cfg: dict[str, Any]) -> dict[str, str]:
    """Set name -> "val" | "test", in evaluation order."""
    return {str(entry["name"]): role for entry, role in evaluated_sets(cfg)}


def selection_split(cfg: dict[str, Any]) -> tuple[str, str] | None:
    """(name, role) of the set whose main metric chooses best.pt: the first validation set, else the first test
    set (a fallback `check` warns about); None without any."""
    sets = evaluated_sets(cfg)
    return (str(sets[0][0]["name"]), sets[0][1]) if sets else None


def with_every_set(cfg: dict[str, Any]) -> dict[str, Any]:
    """`cfg` as the data readers see it: eval.test_sets holding the validation sets first, then the test sets
    (the readers index one list of evaluated sets; the roles stay in `split_roles`)."""
    evaluation = dict(cfg["eval"])
    evaluation["test_sets"] = [entry for entry, _ in evaluated_sets(cfg)]
    return {**cfg, "eval": evaluation}
