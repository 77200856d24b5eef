"""Test-wide settings: offline hub, deterministic threads, and the repository root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    """The repository checkout (presets live under it)."""
    return REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def data_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Decoded-image caches of the whole session in one temporary folder (engines started by tests inherit it)."""
    folder = tmp_path_factory.mktemp("data-cache")
    previous = os.environ.get("LABCONSOLE_DATA_CACHE")
    os.environ["LABCONSOLE_DATA_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("LABCONSOLE_DATA_CACHE", None)
    else:
        os.environ["LABCONSOLE_DATA_CACHE"] = previous
