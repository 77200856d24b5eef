"""Tasks: one module per problem registers itself in TASKS; importing the package loads them all."""

from __future__ import annotations

import importlib
import pkgutil

from engine.tasks.base import TASKS, Task

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["TASKS", "Task"]
