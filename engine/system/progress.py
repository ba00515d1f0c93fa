"""Progress of long command-line work, on stderr, only when stderr is a terminal.

A command wraps its work in ``reporting(stream, what, total)``; the stepper calls ``advance``
once per block of positions it computes, which costs one context-variable lookup when nobody
is reporting (a script, a test, the window). The line is redrawn in place at most twice a
second and only once the work has run a second, so short runs stay silent:

    trace: 120,000 of 200,000 positions, 2,300/s, 35 s left

``done(stream, text)`` prints the one closing line saying what was written.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

SHOW_AFTER_S = 1.0
REDRAW_S = 0.5


class Progress:
    """One line of progress: positions done of an expected total, rate and time left."""

    def __init__(self, stream: TextIO, what: str, total: int) -> None:
        self.stream, self.what, self.total = stream, what, max(int(total), 1)
        self.done = 0
        self.start = time.perf_counter()
        self._drawn_at = 0.0
        self._width = 0

    def advance(self, positions: int) -> None:
        self.done += positions
        self.total = max(self.total, self.done)
        now = time.perf_counter()
        if now - self.start >= SHOW_AFTER_S and now - self._drawn_at >= REDRAW_S:
            self._drawn_at = now
            self._draw(self.line(now - self.start))

    def line(self, elapsed: float) -> str:
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        return (f"{self.what}: {self.done:,} of {self.total:,} positions, {rate:,.0f}/s, "
                f"{_duration(left)} left")

    def _draw(self, text: str) -> None:
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


_CURRENT: ContextVar[Progress | None] = ContextVar("lstm_scope_progress", default=None)


def is_terminal(stream: TextIO | None) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


@contextmanager
def reporting(stream: TextIO | None, what: str, total: int) -> Iterator[Progress | None]:
    """Report the positions computed inside the block on ``stream`` when it is a terminal."""
    if not is_terminal(stream):
        yield None
        return
    progress = Progress(stream, what, total)  # type: ignore[arg-type]
    token = _CURRENT.set(progress)
    try:
        yield progress
    finally:
        _CURRENT.reset(token)
        progress.clear()


def advance(positions: int) -> None:
    """``positions`` more input positions computed (a no-op when nothing reports)."""
    progress = _CURRENT.get()
    if progress is not None:
        progress.advance(positions)


def done(stream: TextIO | None, text: str) -> None:
    """The closing line saying what was written (a terminal only, like the progress)."""
    if is_terminal(stream):
        print(text, file=stream)
