"""Sweep fixtures reuse the engine's tiny synthetic city."""

from tests.engine.conftest import tiny_city  # noqa: F401
