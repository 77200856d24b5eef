"""User-facing errors: anything the user can fix (bad config, missing folder, bad run id) exits 2 with one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """An error caused by user input; the CLI prints its message on one line and exits 2."""

    exit_code = 2


class ConfigError(UserError):
    """A bad configuration value, naming the dotted key it belongs to."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest option, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_choice(kind: str, word: str, options: Iterable[str]) -> str:
    """One-line message for an unknown name: what was given, the closest match, and what is allowed."""
    names = sorted(options)
    return f"unknown {kind} '{word}'{did_you_mean(word, names)}; allowed: {', '.join(names)}"
