"""The few values of a resolved config.yaml the runs table shows, read once per run (yaml, lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ConfigSummary:
    """The few config.yaml values the runs table shows."""

    task: str = ""
    backbone: str = ""
    aggregator: str = ""
    loss: str = ""


def load_config_summary(path: Path) -> ConfigSummary:
    """Read the columns the table needs from a resolved config.yaml (empty summary when unreadable)."""
    import yaml  # lazily: the first frame does not need it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        cfg = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ConfigSummary()
    return summarize_config(cfg) if isinstance(cfg, dict) else ConfigSummary()


def summarize_config(cfg: dict[str, Any]) -> ConfigSummary:
    """The table's config columns from a resolved config mapping."""
    model = _section(cfg, "model")
    return ConfigSummary(
        task=_name_of(cfg.get("task")),
        backbone=_name_of(model.get("backbone")),
        aggregator=_name_of(model.get("aggregator")),
        loss=loss_label(cfg.get("loss")),
    )


def model_has(info: dict[str, Any], group: str) -> bool:
    """Whether the run's model has module group `group` (run.json's parameter counts list its groups: a
    segmentation or detection model has no aggregator though its config keeps the section); True when the run
    does not say."""
    params = info.get("params")
    groups = params.get("by_group") if isinstance(params, dict) else None
    return not isinstance(groups, dict) or not groups or group in groups


def _section(cfg: dict[str, Any], key: str) -> dict[str, Any]:
    """A mapping section of the config ({} when missing or not a mapping)."""
    value = cfg.get(key)
    return value if isinstance(value, dict) else {}


def _name_of(value: Any) -> str:
    """The `name` of a resolved section (a bare string is already a name)."""
    if isinstance(value, dict):
        return str(value.get("name") or value.get("preset") or "")
    return "" if value is None else str(value)


def loss_label(loss: Any) -> str:
    """A loss section as one short label: its name, or its terms joined with '+' for a loss mix."""
    if not isinstance(loss, dict):
        return _name_of(loss)
    for key in ("terms", "components", "weights"):
        terms = loss.get(key)
        if isinstance(terms, dict) and terms:
            return "+".join(str(t) for t in terms)
        if isinstance(terms, list) and terms:
            return "+".join(_name_of(t) for t in terms)
    return _name_of(loss)
