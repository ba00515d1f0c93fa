"""Keras capture of a model *file* in a bounded worker process.

Keras rebuilding an untrusted ``.keras``/``.h5`` walks its HDF5 again (a corrupt heap can make
the HDF5 library spin forever) and allocates what the config declares. So, as for the plain
HDF5 reads (``engine.loaders.h5read``), Keras never runs in LSTM Scope's own process: a child
imports Keras (not timed), loads the file with ``safe_mode=True`` and answers capture requests.
While the parent waits for an answer the child may use at most ``capture_timeout()`` seconds of
CPU time (wall time five times longer for a child stuck without spinning) and at most the memory
budget beyond what it held after importing Keras; past either it is killed and the capture fails
with one line. The window's Cancel kills it at once (``h5read.cancel_reads``). The child stays
alive between captures (a second input costs one forward pass, not a Keras import); when its
model is closed, a worker that never answered with an error waits for the next model file (a
second Keras model costs its load, not another Keras import, as the HDF5 reader is kept). It
ends with LSTM Scope. See docs/architecture.md, "Capture".
"""

from __future__ import annotations

import gc
import importlib.util
import os
import signal
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, ModelFileError, ScopeError, UnsupportedModelError
from ..loaders import h5read
from ..system.budget import BudgetError, format_bytes, memory_budget
from ..system.child import PACKAGE_ROOT, Child, WarmChildren, environment_key
from .feed import Capture

DEFAULT_TIMEOUT = 30.0
RUN_VALUES = 100_000        # input values a run may take capture_timeout() for
IMPORT_GRACE = 120.0        # wall seconds importing Keras may take on a busy machine
_ERRORS: dict[str, type[ScopeError]] = {cls.__name__: cls for cls in (
    ScopeError, ModelFileError, UnsupportedModelError, InputFileError, BudgetError)}


def capture_timeout() -> float:
    """CPU seconds Keras may spend on one load or one run (``LSTM_SCOPE_CAPTURE_TIMEOUT``)."""
    try:
        value = float(os.environ.get("LSTM_SCOPE_CAPTURE_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def worker_backend() -> str:
    """The Keras backend the worker runs: the user's ``KERAS_BACKEND``, else TensorFlow when
    installed, else numpy (it ships with Keras and starts fastest: importing Keras on numpy
    takes 2.5 s of CPU here, on torch 7 s; JAX compiles every initializer while Keras rebuilds
    a model, 22 s of CPU to load a 7-layer model against 1.6 s on numpy)."""
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return chosen
    return "tensorflow" if importlib.util.find_spec("tensorflow") is not None else "numpy"


def _run_limit(inputs: dict[str, np.ndarray]) -> float:
    """CPU seconds one run may take: ``capture_timeout()`` per 100k input values (at least
    once), since a run's work grows with the input while a load's does not."""
    values = sum(int(np.size(v)) for v in inputs.values())
    return capture_timeout() * max(1.0, values / RUN_VALUES)


def _rss_bytes(pid: int) -> int | None:
    """Resident memory of a process (Linux /proc), or None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


# --- the child process -----------------------------------------------------------------------
def _load_capture(path: str, weights_config: str | None, traced: list[tuple[str, bool]],
                  source: str) -> Any:
    from .keras_capture import KerasCapture, load_keras_file
    return KerasCapture(load_keras_file(Path(path), weights_config), traced, source)


def _error(exc: BaseException) -> tuple[str, str, str]:
    if isinstance(exc, ScopeError):
        kind = next((c.__name__ for c in type(exc).__mro__ if c.__name__ in _ERRORS), "ScopeError")
        return ("error", kind, str(exc))
    text = str(exc).strip().splitlines()
    return ("error", "ScopeError",
            f"Keras failed ({type(exc).__name__}: {text[0][:200] if text else ''})")


WORKER = "engine.capture.keras_worker:serve_captures"     # what the worker process runs


def serve_captures(conn: Any, load: Any = None) -> None:
    """The worker process: Keras imported, then one ``("load", (path, weights_config, traced,
    source))`` request at a time, each answered ``ready`` (the clock starts) and the model's
    input names, then ``("run", inputs)`` requests for that model until the next load; ``idle``
    drops the model. Any error answering a load ends the worker; ``load`` (the loader, for
    tests) defaults to ``_load_capture``."""
    from ..system.quiet import quiet_frameworks
    quiet_frameworks()
    try:
        import keras  # noqa: F401 - imported before the clock starts
    except ImportError:
        conn.send(("error", "UnsupportedModelError", "Keras is not installed"))
        return
    request = _next(conn)
    while request is not None and request[0] in ("load", "idle"):
        if request[0] == "idle":
            request = _next(conn)
            continue
        conn.send(("ready", None))
        try:
            capture = (load or _load_capture)(*request[1])
        except Exception as exc:  # noqa: BLE001 - Keras raises anything on a hostile file
            conn.send(_error(exc))
            return
        conn.send(("done", capture.input_names))
        request = _serve_runs(conn, capture)
        del capture
        gc.collect()                    # the model's memory goes back before the next one


def _next(conn: Any) -> tuple[str, Any] | None:
    """The next request, or None once LSTM Scope has ended."""
    try:
        return conn.recv()
    except (EOFError, OSError):
        return None


def _serve_runs(conn: Any, capture: Any) -> tuple[str, Any] | None:
    """Answer ``run`` requests for ``capture``; the first other request (or None at the end)."""
    while True:
        request = _next(conn)
        if request is None or request[0] != "run":
            return request
        try:
            conn.send(("done", capture.run(request[1])))
        except Exception as exc:  # noqa: BLE001 - the input does not fit the model
            conn.send(_error(exc))


# --- the parent ------------------------------------------------------------------------------
_WARM = WarmChildren()      # a worker whose model was closed, waiting for the next model file


def close_idle_workers() -> None:
    """Stop the waiting worker (tests that count the workers they start)."""
    _WARM.close_all()


class _Held:
    """The worker process one ``KerasWorker`` uses, what it was started with, and whether every
    answer was clean: apart from the ``KerasWorker``, so that its closing or its collection
    can hand the process back."""

    def __init__(self, proc: Child, key: tuple[Any, ...]) -> None:
        self.proc: Child | None = proc
        self.key, self.clean = key, True


def _release(held: _Held) -> None:
    """A clean worker drops its model and waits for the next one; any other is closed."""
    proc, held.proc = held.proc, None
    if proc is None:
        return
    if held.clean and proc.is_alive():
        try:
            proc.conn.send(("idle", None))
        except (OSError, ValueError):
            proc.close()
            return
        _WARM.keep(held.key, proc)
    else:
        proc.close()


class KerasWorker:
    """A Keras capturer living in a bounded child process (see the module docstring)."""

    def __init__(self, path: Path, weights_config: str | None, traced: list[tuple[str, bool]],
                 source: str) -> None:
        self.path, self.weights_config = Path(path), weights_config
        self.traced, self.source = list(traced), source
        self._lock = threading.Lock()
        self._held: _Held | None = None
        self._proc: Any = None
        self._conn: Any = None
        self.input_names: list[str] = []
        with self._lock:
            self._start()

    def _start(self) -> None:
        env = {"LSTM_SCOPE_MEMORY_BUDGET": str(memory_budget()), "KERAS_BACKEND": worker_backend()}
        key = (WORKER, sys.executable, environment_key(), tuple(sorted(env.items())),
               str(PACKAGE_ROOT))
        proc = _WARM.take(key) or Child(WORKER, env=env, what="the Keras worker")
        self._held = _Held(proc, key)
        self._proc, self._conn = proc, proc.conn
        weakref.finalize(self, _release, self._held)
        try:
            proc.conn.send(("load", (str(self.path), self.weights_config, self.traced,
                                     self.source)))
            self.input_names = self._answer("loading the model", first=True)
        except (BrokenPipeError, ConnectionResetError):
            self._stop()
            raise ModelFileError(f"{self.source}: Keras ended without an answer loading the "
                                 f"model ({proc.ended_without_answer()})") from None
        except BaseException:
            self._stop()
            raise

    def run(self, inputs: dict[str, np.ndarray]) -> Capture:
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._start()                          # cancelled or failed before: start over
            try:
                self._conn.send(("run", inputs))
            except (OSError, ValueError):
                self._stop()
                raise ScopeError(f"{self.source}: the Keras worker ended; open the model "
                                 f"again") from None
            try:
                return self._answer("running the model", limit=_run_limit(inputs))
            except (BudgetError, ModelFileError, h5read.ReadCancelled):
                self._stop()
                raise

    def close(self) -> None:
        """Done with this model: a worker that never answered with an error waits for the
        next model file."""
        with self._lock:
            if self._held is not None:
                _release(self._held)
            self._proc = self._conn = None

    def _stop(self) -> None:
        """Close the worker process for good (an error, a timeout, Cancel)."""
        if self._held is not None:
            self._held.clean = False
            _release(self._held)
        self._proc = self._conn = None

    def _answer(self, doing: str, first: bool = False, limit: float | None = None) -> Any:
        """The child's next answer, within the CPU-time and memory bounds; the ``first`` waits
        for Keras' import, which is not timed."""
        proc, conn = self._proc, self._conn
        limit = capture_timeout() if limit is None else limit
        budget = memory_budget()
        dog = h5read.Watchdog(proc.pid, limit)
        if first:
            dog.wall += IMPORT_GRACE
        else:
            dog.reset()
        base = None if first else _rss_bytes(proc.pid)   # memory counts from Keras imported
        with h5read.tracked(proc):
            while True:
                if dog.expired():
                    raise ModelFileError(
                        f"{self.source}: Keras made no progress {doing} for {limit:g} s of CPU "
                        f"time (LSTM_SCOPE_CAPTURE_TIMEOUT); abandoned")
                rss = _rss_bytes(proc.pid)
                if rss is not None and base is not None and rss - base > budget:
                    raise BudgetError(
                        f"{self.source}: Keras needed more than {format_bytes(budget)} of memory "
                        f"{doing}, LSTM Scope's budget (LSTM_SCOPE_MEMORY_BUDGET); abandoned")
                message = h5read.receive(proc, conn, 0.1)
                if message is h5read.WAITING:
                    continue
                if message is None:
                    break
                kind, *payload = message
                if kind == "ready":                  # Keras imported: the clock starts now
                    dog.reset()
                    base = _rss_bytes(proc.pid)
                    continue
                if kind == "done":
                    return payload[0]
                if self._held is not None:
                    self._held.clean = False           # not kept for another model
                cls = _ERRORS.get(payload[0], ScopeError)
                raise cls(payload[1] if payload[1].startswith(self.source)
                          else f"{self.source}: {payload[1]}")
        proc.join(timeout=1)
        if proc.exitcode == -signal.SIGKILL:
            raise h5read.ReadCancelled(f"{self.source}: the capture was cancelled")
        raise ModelFileError(f"{self.source}: Keras ended without an answer {doing} "
                             f"({proc.ended_without_answer()}); the file is probably corrupt")
