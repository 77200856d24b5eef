"""Mid-run control: reads control.jsonl at step boundaries, applies known commands, answers each with an event."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from engine.core.config.derive import MAX_LR
from engine.core.config.validate import coerce
from engine.core.errors import ConfigError
from engine.core.protocol import ControlReader, EventWriter

#: Actions that the training loop carries out itself (the steering only queues them).
LOOP_ACTIONS = ("stop", "pause", "resume", "eval", "checkpoint")


class Steering:
    """Validates and applies `set` commands through registered setters; queues loop actions for the trainer."""

    def __init__(self, reader: ControlReader, events: EventWriter) -> None:
        self.reader = reader
        self.events = events
        self.setters: dict[str, Callable[[Any], Any]] = {}
        self.prefix_setters: dict[str, Callable[[str, Any], Any]] = {}
        self.prefix_hints: list[str] = []

    def add_setter(self, key: str, setter: Callable[[Any], Any]) -> None:
        """Allow `set key=value`; the setter validates (raising ConfigError) and returns (value to report, commit):
        a command is applied only when every one of its keys passed."""
        self.setters[key] = setter

    def add_prefix_setter(self, prefix: str, setter: Callable[[str, Any], Any], hint: str) -> None:
        """Allow `set <prefix><name>=value` for names only the setter can check (e.g. the model's module groups).

        Args:
            prefix: e.g. "freeze."; the setter gets the rest of the key and the value.
            setter: Validates (raising ConfigError); returns (value to report, commit) like `add_setter`'s.
            hint: How the key family reads in the list of settable keys, e.g. "freeze.<group>".
        """
        self.prefix_setters[prefix] = setter
        self.prefix_hints.append(hint)

    def settable(self) -> list[str]:
        """Every key `set` accepts on this run, families as their hint ("freeze.<group>"): run.json publishes
        it, so the console lists exactly these."""
        return [*self.setters, *self.prefix_hints]

    def _setter(self, key: str) -> Callable[[Any], Any] | None:
        if key in self.setters:
            return self.setters[key]
        for prefix, setter in self.prefix_setters.items():
            if key.startswith(prefix) and len(key) > len(prefix):
                return functools.partial(setter, key[len(prefix) :])
        return None

    def poll(self, step: int) -> list[str]:
        """Handle new commands; returns the loop actions to perform now, in order. Cheap when nothing arrived."""
        return self.handle(self.read(), step)

    def read(self) -> list[dict[str, Any]]:
        """New commands from control.jsonl, not yet applied (under DDP rank 0 reads and broadcasts them)."""
        return self.reader.poll()

    def handle(self, commands: list[dict[str, Any]], step: int) -> list[str]:
        """Apply `commands` (every rank applies the same ones at the same step); returns the loop actions, in order."""
        actions = []
        for command in commands:
            action = self._handle(command, step)
            if action:
                actions.append(action)
        return actions

    def _handle(self, command: dict[str, Any], step: int) -> str | None:
        if command.get("error"):
            self._answer(command, step, "rejected", command["error"])
            return None
        action = command.get("action")
        if action == "set":
            self._apply_set(command, step)
            return None
        if action in LOOP_ACTIONS:
            self._answer(command, step, "applied")
            return action
        self._answer(command, step, "rejected", f"unknown action '{action}'")
        return None

    def _apply_set(self, command: dict[str, Any], step: int) -> None:
        values = command.get("values") or {}
        setters = {key: self._setter(key) for key in values}
        unknown = [key for key, setter in setters.items() if setter is None]
        if unknown or not values:
            allowed = ", ".join([*sorted(self.setters), *self.prefix_hints])
            self._answer(
                command,
                step,
                "rejected",
                f"cannot set {', '.join(unknown) or 'nothing'}; settable: {allowed}",
            )
            return
        try:
            changes = {key: setters[key](value) for key, value in values.items()}  # type: ignore[misc]
        except ConfigError as exc:
            self._answer(command, step, "rejected", str(exc))  # nothing was applied
            return
        except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:  # a value no check foresaw
            self._answer(command, step, "rejected", f"{', '.join(values)}: {type(exc).__name__}: {exc}")
            return
        for _reported, commit in changes.values():
            commit()
        self._answer(
            command, step, "applied", values={key: reported for key, (reported, _) in changes.items()}
        )

    def _answer(
        self,
        command: dict[str, Any],
        step: int,
        status: str,
        reason: str = "",
        values: dict[str, Any] | None = None,
    ) -> None:
        fields = {
            "id": command.get("id"),
            "action": command.get("action"),
            "status": status,
            "values": values if values is not None else command.get("values") or {},
        }
        if reason:
            fields["reason"] = reason
        self.events.emit("control", step=step, **fields)


def steered_number(key: str, value: Any, default: float | int, minimum: float | None = None) -> Any:
    """A `set` value checked as the config checks it (`coerce`: its type, finite, within 64 bits), at most 2^53
    (a step count or weight beyond that is a typo, and a float could not hold it exactly), and `minimum`."""
    number = coerce(key, value, default)
    if isinstance(number, int) and not isinstance(number, bool) and abs(number) > 2**53:
        raise ConfigError(key, f"{str(number)[:20]}… is too large")
    if minimum is not None and number < minimum:
        raise ConfigError(key, f"must be ≥ {minimum}, got {number}")
    return number


def learning_rate(key: str, value: float) -> float:
    """A learning rate: finite, > 0 and at most the config's MAX_LR."""
    if not (math.isfinite(value) and 0 < value <= MAX_LR):
        raise ConfigError(key, f"must be a learning rate in (0, {MAX_LR:g}], got {value:g}")
    return value
