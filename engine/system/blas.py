"""One BLAS thread while the engine computes a run, from any caller (CLI, script, notebook).

The engine's products are small (one step's (B, H)·(H, 4N), x·W in blocks of steps): on a busy
machine a multithreaded BLAS makes them wait for each other (a trace of batch 32, 1,000 steps,
256 units took 0.6 s, then 4.0 s, while another process used the second core; with one thread
a steady 0.7-0.9 s). ``main.py`` sets ``OPENBLAS_NUM_THREADS=1`` before numpy loads, but a
script or notebook has already loaded numpy with its own setting, so the engine limits BLAS
itself, with threadpoolctl, around each trace, run or gradient pass (``one_blas_thread``),
never around a single step of a run. The limit is process-wide (BLAS has one thread pool), so
there is one limiter for every thread: the first computation to start sets it, the last to end
restores what the user had. A person who set ``OPENBLAS_NUM_THREADS`` keeps their choice (the
CLI honours it the same way). See docs/architecture.md, "Long runs".
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
USER_CHOICE = "OPENBLAS_NUM_THREADS"

_lock = threading.Lock()
_holders = 0
_limiter: Any = None
_controller: Any = None


def _blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, found once (a scan of the loaded
    libraries costs ~30 ms; setting a limit on a known library ~40 µs)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS runs on one thread inside (re-entrant, shared by all threads)."""
    global _holders, _limiter
    with _lock:
        if _holders == 0 and USER_CHOICE not in os.environ:
            _limiter = _blas_controller().limit(limits=1)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None


def libraries_loaded() -> None:
    """New BLAS libraries may have been loaded (numba's import loads SciPy's, when the
    compiled steps load on a first run): look for them again at the next limit, and hold
    them at one thread now if a computation is under way."""
    global _controller, _limiter
    with _lock:
        _controller = None
        if _limiter is not None:
            _limiter.restore_original_limits()
            _limiter = _blas_controller().limit(limits=1)


def blas_limited(function: F) -> F:
    """``function`` runs inside ``one_blas_thread()``: for a trace, a run, a gradient pass."""
    @functools.wraps(function)
    def limited(*args: Any, **kwargs: Any) -> Any:
        with one_blas_thread():
            return function(*args, **kwargs)
    return limited  # type: ignore[return-value]


__all__ = ["blas_limited", "libraries_loaded", "one_blas_thread"]
