"""Mid-run control: reads control.jsonl at step boundaries, applies known commands, answers each with an event."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from engine.core.errors import ConfigError
from engine.core.protocol import ControlReader, EventWriter
from engine.core.schedules.changes import learning_rate, steered_number

__all__ = ["LOOP_ACTIONS", "Steering", "learning_rate", "steered_number"]

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

    def apply_scheduled(self, source: str, values: dict[str, Any], step: int) -> None:
        """Apply a change the config scheduled (`schedule.changes[i]`, the no-augmentation tail) exactly as a `set`
        command: the same setters and checks, answered with the same `control` event, marked `scheduled`."""
        self._apply_set({"id": source, "action": "set", "values": dict(values), "scheduled": True}, step)

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
        if command.get("scheduled"):
            fields["scheduled"] = True
        self.events.emit("control", step=step, **fields)
