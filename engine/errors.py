"""User-facing errors: each one is a single readable line naming the file and the problem.

The CLI prints ``str(error)`` and exits 2; the window shows it in a message box. Anything that
is *not* a ScopeError is a bug in LSTM Scope and keeps its traceback.
"""

from __future__ import annotations


class ScopeError(Exception):
    """A problem with what the user gave us (a file, an input, an expression)."""


class ModelFileError(ScopeError):
    """The model file is missing, unreadable, or not a model we understand."""


class UnsupportedModelError(ScopeError):
    """The file is a real model, but a layer in it is not something we can trace (yet)."""


class InputFileError(ScopeError):
    """The input sequence is missing, malformed, or does not fit the model."""


class InitialStateError(InputFileError):
    """An initial state (``--initial-state``, a carried state) does not fit the model."""


def describe(path: object) -> str:
    """A path as messages show it: as typed, or quoted like Python's repr when it holds a
    newline or another character a terminal would not show, so an error stays one line."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def one_line(message: str) -> str:
    """``message`` with control characters escaped: what the CLI prints is always one line."""
    if message.isprintable():
        return message
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


class Cancelled(ScopeError):
    """Long work stopped because its caller no longer wants the answer (a newer request)."""

