"""control.jsonl: commands appended by the console/CLI and polled cheaply by the engine."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from engine.core.errors import UserError, unknown_choice

CONTROL_ACTIONS = ("set", "stop", "pause", "resume", "eval", "checkpoint")
"""Every action a control line may carry."""


def _check_action(action: str) -> None:
    """Raise UserError unless `action` is a known control action."""
    if action not in CONTROL_ACTIONS:
        raise UserError(unknown_choice("control action", str(action), CONTROL_ACTIONS))


def _encode_command(action: str, values: dict[str, Any] | None) -> tuple[str, bytes]:
    """A fresh command id and its JSON line (strict JSON: NaN or odd objects are the user's error)."""
    if values is not None and not isinstance(values, dict):
        raise UserError(f"control values must be a mapping of key to value, got {type(values).__name__}")
    cid = uuid.uuid4().hex[:12]
    command = {"id": cid, "t": time.time(), "action": action, "values": values or {}}
    try:
        line = json.dumps(command, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UserError(
            f"control values must be plain JSON (finite numbers, text, lists, mappings): {exc}"
        ) from None
    return cid, (line + "\n").encode()


def send_control(
    control_path: str | os.PathLike[str], action: str, values: dict[str, Any] | None = None
) -> str:
    """Append one command to a run's control.jsonl and return its id (the engine answers with it)."""
    _check_action(action)
    cid, data = _encode_command(action, values)
    path = Path(control_path)
    if not path.parent.is_dir():
        raise UserError(f"no run folder {path.parent}")
    # One os.write on an O_APPEND descriptor: concurrent senders never interleave inside a line.
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        if _ends_unterminated(fd):
            data = b"\n" + data  # a torn fragment (a writer that died mid-line) must not swallow this command
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
    return cid


def _ends_unterminated(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def parse_commands(line: str) -> list[dict[str, Any]]:
    """The commands of one line: normally one; when a torn fragment was glued to a whole command (an old
    writer, or one that did not end the line), the fragment is answered as unusable and the command kept."""
    first = parse_command(line)
    if "error" not in first:
        return [first]
    starts = [match.start() for match in _COMMAND_START.finditer(line) if match.start() > 0]
    if not starts:
        return [first]
    pieces = [line[a:b] for a, b in zip([0, *starts], [*starts, len(line)])]
    return [parse_command(piece) for piece in pieces if piece.strip()]


_COMMAND_START = re.compile(r'\{\s*"id"\s*:')
"""How every line the CLI and the console write begins."""


def parse_command(raw: str) -> dict[str, Any]:
    """A command dict from one line, or {"id": <id or None>, "error": why, "raw": raw} when unusable."""
    try:
        cmd = json.loads(raw)
    except ValueError as exc:
        return {"id": None, "error": f"not JSON ({exc})", "raw": raw[:200]}
    except RecursionError:
        return {"id": None, "error": "not JSON (nested too deeply)", "raw": raw[:200]}
    if not isinstance(cmd, dict):
        return {"id": None, "error": "not a JSON object", "raw": raw}
    cid = cmd.get("id") if isinstance(cmd.get("id"), str) else None
    action = cmd.get("action")
    if action not in CONTROL_ACTIONS:
        return {
            "id": cid,
            "error": unknown_choice("control action", str(action), CONTROL_ACTIONS),
            "raw": raw,
        }
    values = cmd.get("values")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        return {"id": cid, "error": "values must be a JSON object", "raw": raw}
    return {**cmd, "id": cid, "action": action, "values": values}


class ControlReader:
    """Engine side of the control channel: returns commands appended since the last poll."""

    def __init__(self, control_path: str | os.PathLike[str], offset: int = 0):
        self.path = Path(control_path)
        """The control.jsonl being polled."""
        self._offset = offset

    @property
    def offset(self) -> int:
        """Byte offset just past the last complete line returned."""
        return self._offset

    def poll(self) -> list[dict[str, Any]]:
        """New commands (see `parse_command`); one os.stat and no open when nothing changed."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return []
        if size == self._offset:
            return []
        if size < self._offset:  # replaced or truncated by hand: start over
            self._offset = 0
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        cut = data.rfind(b"\n") + 1  # a line still being written waits for the next poll
        self._offset += cut
        lines = data[:cut].decode("utf-8", "replace").split("\n")[:-1]
        return [command for line in lines if line.strip() for command in parse_commands(line.rstrip("\r"))]
