"""`module:Class` names: a section naming a user's class instead of a registry entry (model.backbone.name)."""

from __future__ import annotations

import re

from engine.core.errors import ConfigError

_USER_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")


def is_user_class(name: object) -> bool:
    """Whether `name` asks for a user class (`my_package.my_module:MyNet`): no registry or timm name has a ':'."""
    return isinstance(name, str) and ":" in name


def split_user_class(key: str, name: str) -> tuple[str, str]:
    """(`my_package.my_module`, `MyNet`) of a `module:Class` name; ConfigError at `key` when malformed."""
    if not _USER_CLASS.fullmatch(name):
        raise ConfigError(
            key,
            f"'{name}' is not a user class name: expected module.path:ClassName "
            "(e.g. my_package.my_module:MyNet), the module importable from the run's folder or PYTHONPATH",
        )
    module, _, cls = name.partition(":")
    return module, cls
