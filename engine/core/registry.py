"""A name -> factory registry, one per extension kind (backbones, aggregators, losses, ...); torch-free."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.core.errors import ConfigError, unknown_choice


@dataclass(frozen=True)
class Entry:
    """One registered implementation: its name, the function that builds it and a one-line description."""

    name: str
    factory: Callable[..., Any]
    description: str


class Registry:
    """Maps names to factories; lookups of unknown names raise a ConfigError listing the valid names."""

    def __init__(self, kind: str, config_key: str = "") -> None:
        self.kind = kind
        self.config_key = config_key or kind
        self._entries: dict[str, Entry] = {}

    def register(
        self, name: str, description: str = ""
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering `factory` under `name`; the description defaults to its docstring's first line."""

        def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            doc = description or (factory.__doc__ or "").strip().splitlines()[0:1]
            text = doc if isinstance(doc, str) else (doc[0] if doc else "")
            self._entries[name] = Entry(name, factory, text)
            return factory

        return decorate

    def get(self, name: str) -> Entry:
        """Return the entry called `name` or raise a ConfigError naming the allowed ones."""
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(self.config_key, unknown_choice(self.kind, name, self._entries)) from None

    def build(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Look up `name` and call its factory."""
        return self.get(name).factory(*args, **kwargs)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self):
        return iter(self._entries.values())
