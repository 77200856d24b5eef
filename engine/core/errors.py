"""User-facing errors: anything the user can fix (bad config, missing folder, bad run id) exits 2 with one line."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable
from typing import Any


class UserError(Exception):
    """An error caused by user input; the CLI prints its message on one line and exits 2."""

    exit_code = 2


class ConfigError(UserError):
    """A bad configuration value, naming the dotted key it belongs to."""

    def __init__(self, key: str, message: str) -> None:
        # Keys and values come from the user's file: a newline or a terminal escape in them must not break
        # the one-line message (or the terminal).
        self.key = one_line(key)
        self.message = one_line(message)
        super().__init__(f"{self.key}: {self.message}" if self.key else self.message)


def one_line(text: str) -> str:
    """`text` with line breaks and other unprintable characters escaped (`\\n`, `\\x1b`, `\\u2028`)."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


class _ShortRepr(reprlib.Repr):
    """repr() cut to a readable size; bounded work even for huge or alias-shared structures."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = 60
        self.maxother = 60
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 6

    def repr_int(self, x: int, level: int) -> str:
        # str() of an int beyond 4,300 digits raises ValueError (Python >= 3.11), and 400 digits are no help
        if abs(x) < 10**30:
            return str(x)
        if x.bit_length() < 14_000:  # 4,214 digits at most: str() can count them
            return f"a {len(str(abs(x)))}-digit {'negative ' if x < 0 else ''}integer"
        return f"an integer of about {int(x.bit_length() * 0.30103) + 1} digits"


_SHORT_REPR = _ShortRepr()


def shown(value: Any) -> str:
    """A short one-line repr of a user's value for an error message (long strings and lists are cut)."""
    return one_line(_SHORT_REPR.repr(value))


def shown_path(path: object) -> str:
    """A file path for an error message: as given when short and printable, else cut and escaped by `shown`."""
    text = str(path)
    return text if len(text) <= 200 and text.isprintable() else shown(text)


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest option, or '' when nothing is close."""
    close = difflib.get_close_matches(word[:100], list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_choice(kind: str, word: str, options: Iterable[str]) -> str:
    """One-line message for an unknown name: what was given, the closest match, and what is allowed."""
    names = sorted(options)
    return f"unknown {kind} {shown(word)}{did_you_mean(word, names)}; allowed: {', '.join(names)}"
