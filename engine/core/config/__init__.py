"""Torch-free configuration: presets, overrides, validation and the resolved run config."""

from __future__ import annotations

from typing import Any

import yaml

from engine.core.config.presets import PRESETS_DIR, describe_presets, list_presets, load_preset, preset_params
from engine.core.config.resolve import PRESET_SECTIONS, resolve_config
from engine.core.config.schema import TYPED_SECTIONS, field_help

__all__ = [
    "PRESETS_DIR",
    "PRESET_SECTIONS",
    "TYPED_SECTIONS",
    "describe_presets",
    "dump_config",
    "field_help",
    "list_presets",
    "load_preset",
    "preset_params",
    "resolve_config",
]


def dump_config(cfg: dict[str, Any]) -> str:
    """The resolved config as YAML, sections in their natural order."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None, allow_unicode=True)
