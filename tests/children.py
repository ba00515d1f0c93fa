"""Misbehaving bounded children for the tests: each is the real child entry point
(``h5read.serve_reader``, ``keras_worker.serve_captures``) with its work replaced. A child is a
clean interpreter (``engine.system.child``), so a test names one of these as the child's target
(``h5read.READER``, ``keras_worker.WORKER``) instead of patching a function in its own process."""

from __future__ import annotations

import sys
import time
import types

import numpy as np

from engine.capture import keras_worker
from engine.loaders import h5read


def _sleep(*args, **kwargs):
    time.sleep(120)


def _spin(*args, **kwargs):
    while True:
        pass


def _grow(*args, **kwargs):
    hold = np.ones(64 * 1024**2, np.uint8)     # 64 MB, touched
    time.sleep(120)
    return hold


class _Echo:
    input_names = ["signal"]


def _without_keras() -> None:
    """An empty module answers the worker's ``import keras``: importing Keras costs a worker
    seconds of CPU that a test of the parent's bounds on the load (CPU time, memory, Cancel,
    which worker is kept) does not use. The real import, and that it is not timed, is what
    ``slow_import_capture`` and every real capture exercise."""
    if "keras" not in sys.modules:
        sys.modules["keras"] = types.ModuleType("keras")


def stuck_reader(conn) -> None:
    """An HDF5 reader that imports h5py, then makes no progress."""
    h5read.serve_reader(conn, walk=_sleep)


def spinning_capture(conn) -> None:
    """A Keras load that spins at 100% CPU forever (Keras not imported)."""
    _without_keras()
    keras_worker.serve_captures(conn, load=_spin)


def growing_capture(conn) -> None:
    """A Keras load that takes 64 MB and then waits (Keras not imported)."""
    _without_keras()
    keras_worker.serve_captures(conn, load=_grow)


def instant_capture(conn) -> None:
    """A Keras load that answers at once (Keras not imported): for the parent's choice of
    which worker serves a model."""
    _without_keras()
    keras_worker.serve_captures(conn, load=lambda *a: _Echo())


def slow_import_capture(conn) -> None:
    """An import burning 1.5 s of CPU before Keras is even imported; the load itself is
    instant."""
    end = time.process_time() + 1.5
    while time.process_time() < end:
        pass
    keras_worker.serve_captures(conn, load=lambda *a: _Echo())


def dying_reader(conn) -> None:
    """A reader that dies without an answer, saying why on stderr."""
    conn.recv()
    raise SystemExit("the reader's last words")


def loaded_modules(conn) -> None:
    """Answers whether numba was imported with the engine in this child."""
    conn.send("numba" in sys.modules)
