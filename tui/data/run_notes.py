"""Notes on runs: free text the user adds to a run (`labconsole note`, `N` in the console), kept in run.json.

run.json "notes" is a list of {"text": str, "t": unix seconds}, oldest first. The engine never writes it; it
merges its own fields into whatever run.json holds (update_run_info), so notes survive a live run's updates.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.core.errors import UserError
from engine.core.protocol import RunPaths, load_run_info, update_run_info
from engine.core.protocol.listing import DAMAGE

MAX_NOTE_CHARS = 2000
"""Longer notes are refused: run.json is read on every refresh of every reader."""


def add_note(run_dir: Path, text: str, now: float | None = None) -> dict[str, Any]:
    """Append the note `text` (stamped `now`) to the run's run.json atomically; returns the note.

    Raises:
        UserError: empty or overlong text, or a folder without a readable run.json.
    """
    text = text.strip()
    if not text:
        raise UserError("a note needs some text")
    if len(text) > MAX_NOTE_CHARS:
        raise UserError(f"a note is at most {MAX_NOTE_CHARS:,} characters (this one has {len(text):,})")
    paths = RunPaths(Path(run_dir))
    info = load_run_info(paths.root)
    if info is None:
        raise UserError(f"{paths.root} has no run.json")
    if info.get(DAMAGE):
        # writing would replace what is left of it with a skeleton: the user repairs it first
        raise UserError(f"cannot add a note to {paths.run_id}: {info[DAMAGE]}")
    note = {"text": text, "t": time.time() if now is None else now}
    update_run_info(paths.run_json, notes=[*notes_of(info), note])
    return note


def notes_of(info: dict[str, Any]) -> list[dict[str, Any]]:
    """run.json "notes", oldest first, with malformed entries dropped (the file is hand-editable)."""
    notes = info.get("notes")
    if not isinstance(notes, list):
        return []
    return [
        {"text": note["text"], "t": note.get("t") if isinstance(note.get("t"), (int, float)) else None}
        for note in notes
        if isinstance(note, dict) and isinstance(note.get("text"), str)
    ]
