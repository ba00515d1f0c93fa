"""Bounded child processes (the HDF5 reader, the Keras capture worker) as clean interpreters.

A child is ``sys.executable -I`` started on a function of ours (``"module:function"``),
talking to LSTM Scope over a socket pair with pickled messages (``multiprocessing``'s
``Connection`` framing). It never depends on the caller's ``__main__``: multiprocessing's
spawn and forkserver methods re-import the user's script in the child (running its side
effects again, or failing outright for a script fed on stdin), and forking a process that runs
native threads (Qt, XLA, torch) is unsafe. ``-I`` ignores the user's environment variables for
Python and the current folder, so the folder holding our package is put on the child's path
explicitly: the child runs the same code as its parent. What the child prints goes to a
temporary file, whose last line explains a child that died without an answer.
See docs/architecture.md, "Files in, files out".
"""

from __future__ import annotations

import atexit
import importlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..errors import ScopeError

PACKAGE_ROOT = Path(__file__).resolve().parents[2]          # the folder holding engine/
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from engine.system.child import child_main; child_main()")
LAST_WORDS_BYTES = 4096
NO_COMPILED_STEPS = "LSTM_SCOPE_JIT"
"""Set to 0 in every child (``engine.runs.compiled.JIT_SWITCH``): a child reads files or runs
a framework, never steps an LSTM on the engine's path, and a library call of it that did would
load the compiled steps at a cost of about 0.8 s of CPU (numba's import)."""


# Variables that change while a program runs without changing what a child does: pytest
# rewrites PYTEST_CURRENT_TEST at every phase of every test, and no child reads it.
VOLATILE_ENV = frozenset({"PYTEST_CURRENT_TEST"})


def environment_key() -> tuple[tuple[str, str], ...]:
    """This process's environment as a kept child compares it: a child started under another
    environment (a changed memory budget, Keras backend ...) is not reused."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k not in VOLATILE_ENV))


class Child:
    """One clean interpreter running ``target`` (``"module:function"``, called with the
    child's end of the connection); ``conn`` is the parent's end. Quacks like the
    ``multiprocessing.Process`` it replaces: ``pid``, ``is_alive``, ``kill``, ``join``,
    ``exitcode``."""

    def __init__(self, target: str, *, env: dict[str, str] | None = None,
                 what: str = "a worker process") -> None:
        if not sys.executable:
            raise ScopeError(f"cannot start {what}: this Python does not name its interpreter "
                             f"(sys.executable is empty)")
        ours, theirs = socket.socketpair()
        self._log = tempfile.TemporaryFile()
        environ = dict(os.environ)
        environ[NO_COMPILED_STEPS] = "0"
        environ.update(env or {})
        try:
            self._popen = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, str(PACKAGE_ROOT), target,
                 str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=self._log, env=environ, close_fds=True)
        except OSError as exc:
            ours.close()
            self._log.close()
            raise ScopeError(f"cannot start {what} ({exc.strerror or exc})") from None
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.pid = self._popen.pid

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def kill(self) -> None:
        if self.is_alive():
            try:
                self._popen.kill()
            except ProcessLookupError:
                pass

    def join(self, timeout: float | None = None) -> None:
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    @property
    def exitcode(self) -> int | None:
        return self._popen.poll()

    def last_words(self) -> str:
        """The last line the child printed (a traceback's last line says why it died)."""
        try:
            self._log.seek(0, os.SEEK_END)
            size = self._log.tell()
            self._log.seek(max(0, size - LAST_WORDS_BYTES))
            text = self._log.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1][:200] if lines else ""

    def close(self) -> None:
        """Kill the child if it still runs and release the pipe and the log."""
        self.kill()
        self.join(5)
        for handle in (self.conn, self._log):
            try:
                handle.close()
            except OSError:
                pass

    def ended_without_answer(self) -> str:
        """Why the child ended without answering, for a one-line message."""
        code = self.exitcode
        said = self.last_words()
        return f"exit code {code}" + (f": {said}" if said else "")


class WarmChildren:
    """At most one idle child kept for the next job of its kind (starting one costs an
    interpreter and its imports), by what it was started with (``key``: program, interpreter,
    environment, package); a child started with anything else is closed when another is taken.
    ``close_all`` runs at exit and before a test counts the children it starts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[Any, ...], Child] = {}
        self._exiting = False
        atexit.register(self._at_exit)

    def take(self, key: tuple[Any, ...]) -> Child | None:
        """The waiting child started with ``key`` if it is still alive, else None."""
        with self._lock:
            proc = self._idle.pop(key, None)
            stale = list(self._idle.values())
            self._idle.clear()
        for other in stale:
            other.close()
        if proc is not None and proc.is_alive():
            return proc
        if proc is not None:
            proc.close()
        return None

    def keep(self, key: tuple[Any, ...], proc: Child) -> None:
        """Keep ``proc`` for the next ``take(key)`` (closed if another already waits)."""
        with self._lock:
            if not self._idle and not self._exiting and proc.is_alive():
                self._idle[key] = proc
                return
        proc.close()

    def close_all(self) -> None:
        with self._lock:
            procs = list(self._idle.values())
            self._idle.clear()
        for proc in procs:
            proc.close()

    def _at_exit(self) -> None:
        self._exiting = True
        self.close_all()


def child_main() -> None:
    """The child's side (started by ``Child``): connect, then run the target function."""
    target, fd = sys.argv[2], int(sys.argv[3])
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # Ctrl+C is the parent's to handle
    conn = Connection(fd)
    module, _, function = target.partition(":")
    try:
        getattr(importlib.import_module(module), function)(conn)
    finally:
        conn.close()


__all__ = ["PACKAGE_ROOT", "Child", "child_main"]
