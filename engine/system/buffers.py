"""Big arrays reused from one run to the next instead of page-faulted fresh each time.

A trace records about fourteen numbers per unit, sample and step (hundreds of MB at batch 32);
a freshly allocated array of that size costs the kernel a zeroed page per 4 KB (or, for
numpy's huge-page requests, a compaction of memory) when it is first written, as much as the
run's arithmetic (docs/architecture.md, "Long runs": the stepper's layout). ``empty`` hands out views of
buffers kept here: once every view of a buffer is gone (the caller dropped its trace), the next
request of the same size gets the same memory back, already mapped.

How a buffer is known to be free: each one is exposed through one ``np.frombuffer`` array over
a memoryview, and numpy makes every view derived from it (reshape, slices, transposes) point at
that array as its ``base``, never past it (its base is the memoryview, not an array). A weak
reference to it therefore dies exactly when the last view does. Free buffers are kept up to
half the memory budget (``engine.budget``), at most ``KEEP_BYTES``, the least recently freed
dropped first; arrays under ``MIN_BYTES`` come from numpy directly (the C allocator already
reuses small blocks).
"""

from __future__ import annotations

import math
import mmap
import sys
import threading
import weakref
from collections import OrderedDict

import numpy as np

from .budget import BudgetError, memory_budget

MIN_BYTES = 1 << 20
KEEP_BYTES = 1 << 30
"""At most this many bytes of free buffers are held for the next run (1 GiB)."""


def keep_bytes() -> int:
    """Bytes of free buffers kept: half the memory budget, at most ``KEEP_BYTES`` (a budget
    that is not a size keeps the default here; the run itself reports it)."""
    try:
        return min(KEEP_BYTES, memory_budget() // 2)
    except BudgetError:
        return KEEP_BYTES


_lock = threading.RLock()   # re-entrant: a release can run inside a take (GC)
_free: OrderedDict[int, list[mmap.mmap | np.ndarray]] = OrderedDict()   # size -> free owners, LRU order
_free_bytes = 0
_watch: dict[int, tuple[weakref.ref, mmap.mmap | np.ndarray]] = {}     # id(exposed) -> (ref, owner)


def empty(shape: tuple[int, ...], dtype: np.dtype | type = np.float32) -> np.ndarray:
    """An uninitialised C-contiguous array, on a reused buffer when one of its size is free."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    owner = _take(nbytes)
    if owner is None:
        owner = _new(nbytes)
    exposed = np.frombuffer(memoryview(owner), dtype)
    key = id(exposed)
    with _lock:
        _watch[key] = (weakref.ref(exposed, lambda _ref, k=key: _release(k)), owner)
    return exposed.reshape(shape)


def _new(nbytes: int) -> mmap.mmap | np.ndarray:
    """A fresh buffer: a private anonymous mapping where the system has one (its pages are
    faulted in at the plain 4 KB cost: numpy asks large arrays for huge pages, and the kernel
    compacting memory for them made a first trace 3.4x a later one on a busy machine, against
    1.5x this way), else numpy's own."""
    private = getattr(mmap, "MAP_PRIVATE", None)
    if private is None:
        return np.empty(nbytes, np.uint8)
    return mmap.mmap(-1, nbytes, flags=private)


def _take(nbytes: int) -> mmap.mmap | np.ndarray | None:
    global _free_bytes
    with _lock:
        owners = _free.get(nbytes)
        if not owners:
            return None
        owner = owners.pop()
        if not owners:
            del _free[nbytes]
        _free_bytes -= nbytes
        return owner


def _release(key: int) -> None:
    """The last view of a buffer is gone: keep it for the next request of its size. Not while
    the interpreter shuts down: there is no next request, and the budget's ``os.environ`` (or
    this module's globals) may already be torn down; the memory goes back with the process."""
    global _free_bytes
    try:
        if sys.is_finalizing():
            return
    except AttributeError:      # this module's globals are already cleared
        return
    with _lock:
        entry = _watch.pop(key, None)
        if entry is None:           # forgotten by clear(in_use=True): freed with its arrays
            return
        owner = entry[1]
        size = len(owner)
        _free.setdefault(size, []).append(owner)
        _free.move_to_end(size)
        _free_bytes += size
        keep = keep_bytes()
        while _free_bytes > keep and _free:
            size, owners = next(iter(_free.items()))
            owners.pop(0)
            _free_bytes -= size
            if not owners:
                del _free[size]


def held_bytes() -> int:
    """Bytes of free buffers held for reuse."""
    with _lock:
        return _free_bytes


def clear(*, in_use: bool = False) -> None:
    """Give every free buffer back (buffers in use stay with their arrays). ``in_use``: also
    stop keeping the buffers in use now once their arrays are dropped, so they go back to the
    system then (another model was opened: its predecessor's run will not be computed again,
    and the next run of its size may be far off)."""
    global _free_bytes
    with _lock:
        _free.clear()
        _free_bytes = 0
        if in_use:
            _watch.clear()


__all__ = ["clear", "empty", "held_bytes"]
