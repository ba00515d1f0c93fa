"""Untrusted HDF5 files read in a worker process, with a time limit and the memory budget.

A byte flipped in an HDF5 attribute heap can make the HDF5 library spin forever inside one
call, holding the process; a dataset header can declare terabytes. So the loaders never walk an
untrusted file in their own process: a child process (a clean interpreter, ``engine.system.child``) copies
the file's groups, attributes and datasets into plain ``H5Group`` objects and numpy arrays,
checking each declared size against the budget first and reporting progress as it goes. A
child that reports nothing for ``read_timeout()`` seconds is killed and the load fails with one
line; ``cancel_reads()`` (the window's Cancel) kills it at once. Soft and external links are
not followed: an external link could name any file on the machine.
See docs/architecture.md, "Files in, files out".
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, ScopeError
from ..system.budget import BudgetError, array_bytes, check_bytes, memory_budget
from ..system.child import PACKAGE_ROOT, Child, WarmChildren, environment_key

DEFAULT_TIMEOUT = 4.0
MAX_DEPTH = 32
MAX_OBJECTS = 100_000
SLICE_BYTES = 64 * 1024**2        # big datasets are read in slices, with progress between
_ACTIVE: set[Any] = set()
_LOCK = threading.Lock()


class ReadCancelled(ScopeError):
    """The user cancelled the load."""


def read_timeout() -> float:
    """Seconds a reader may go without progress (``LSTM_SCOPE_READ_TIMEOUT`` overrides)."""
    try:
        value = float(os.environ.get("LSTM_SCOPE_READ_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


class H5Group:
    """A group copied out of an HDF5 file: ``attrs`` (dict), children by name (groups or numpy
    arrays), with h5py's lookups (``"a/b"`` paths, ``in``, ``get``, ``keys``)."""

    def __init__(self, attrs: dict[str, Any] | None = None,
                 children: dict[str, Any] | None = None) -> None:
        self.attrs: dict[str, Any] = attrs or {}
        self._children: dict[str, Any] = children or {}

    def _find(self, path: str) -> Any:
        node: Any = self
        for part in str(path).strip("/").split("/"):
            if not isinstance(node, H5Group) or part not in node._children:
                raise KeyError(path)
            node = node._children[part]
        return node

    def __getitem__(self, path: str) -> Any:
        return self._find(path)

    def get(self, path: str, default: Any = None) -> Any:
        try:
            return self._find(path)
        except KeyError:
            return default

    def __contains__(self, path: object) -> bool:
        try:
            self._find(str(path))
            return True
        except KeyError:
            return False

    def keys(self) -> list[str]:
        return list(self._children)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._children.items())

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._children))

    def __len__(self) -> int:
        return len(self._children)


# --- the child process -----------------------------------------------------------------------
class _Walker:
    def __init__(self, conn: Any, skip: tuple[str, ...]) -> None:
        self.conn = conn
        self.skip = skip
        self.objects = 0
        self.total = 0
        self.last = 0.0

    def progress(self) -> None:
        now = time.monotonic()
        if self.conn is not None and now - self.last > 0.2:
            self.conn.send(("progress", self.objects))
            self.last = now

    def count(self, nbytes: int, what: str) -> None:
        self.objects += 1
        if self.objects > MAX_OBJECTS:
            raise ModelFileError(f"holds more than {MAX_OBJECTS} HDF5 objects; not a model file")
        self.total += nbytes
        check_bytes(self.total, f"{what}: the file's arrays", error=BudgetError)
        self.progress()

    def attrs(self, obj: Any, where: str) -> dict[str, Any]:
        out = {}
        for name in obj.attrs:
            attr = obj.attrs.get_id(name)
            try:       # what the dataspace declares (a corrupt one can claim terabytes)
                size = array_bytes(attr.shape or (), attr.dtype.itemsize)
            except Exception:  # noqa: BLE001 - null dataspaces and odd types declare nothing
                size = 0
            self.count(size, f"{where} attribute {name!r}")
            out[name] = obj.attrs[name]
        return out

    def dataset(self, ds: Any, where: str) -> np.ndarray:
        shape = ds.shape
        if shape is None:                        # a null dataspace: no data at all
            return np.empty(0, ds.dtype)
        nbytes = array_bytes(shape, ds.dtype.itemsize)
        check_bytes(nbytes, f"{where}: the dataset {tuple(shape)} {ds.dtype}", error=BudgetError)
        self.count(nbytes, where)
        if nbytes <= SLICE_BYTES or not shape:
            return np.asarray(ds[()])
        out = np.empty(shape, ds.dtype)
        step = max(1, SLICE_BYTES // max(1, nbytes // shape[0]))
        for a in range(0, shape[0], step):
            out[a:a + step] = ds[a:a + step]
            self.last = 0.0
            self.progress()
        return out

    def group(self, group: Any, where: str, depth: int) -> H5Group:
        import h5py
        if depth > MAX_DEPTH:
            raise ModelFileError(f"HDF5 groups nested deeper than {MAX_DEPTH} levels")
        node = H5Group(self.attrs(group, where))
        for name in group:
            if depth == 0 and name in self.skip:
                continue
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                continue                          # soft/external links may point anywhere
            item = group[name]
            here = f"{where}/{name}"
            if isinstance(item, h5py.Group):
                node._children[name] = self.group(item, here, depth + 1)
            elif isinstance(item, h5py.Dataset):
                node._children[name] = self.dataset(item, here)   # its attributes: unused
        return node


def _walk(source: Any, skip: tuple[str, ...], conn: Any = None) -> H5Group:
    import h5py
    handle = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    with h5py.File(handle, "r") as h5:
        return _Walker(conn, skip).group(h5, "", 0)


READER = "engine.loaders.h5read:serve_reader"     # what the reader process runs


def serve_reader(conn: Any, walk: Any = None) -> None:
    """The reader process: requests ``(source, skip)`` one after another, each answered with
    progress messages and one answer, until the parent closes the pipe; ``walk`` (the copier,
    for tests) defaults to ``_walk``. A reader that answered with an error exits: only a reader
    whose every read succeeded is kept warm for the next file (see ``read_h5``)."""
    while True:
        try:
            source, skip = conn.recv()
        except (EOFError, OSError):
            return
        if not _serve_one(conn, source, skip, walk or _walk):
            return


def _serve_one(conn: Any, source: Any, skip: tuple[str, ...], walk: Any) -> bool:
    """Answer one request; False when the answer was an error."""
    try:
        import h5py
        conn.send(("ready", h5py.__version__))       # the time limit starts after the import
        conn.send(("done", walk(source, skip, conn)))
        return True
    except BudgetError as exc:
        conn.send(("budget", str(exc)))
    except ModelFileError as exc:
        conn.send(("error", str(exc)))
    except OSError as exc:
        conn.send(("error", f"not a readable HDF5 file ({_first_line(exc)})"))
    except Exception as exc:  # noqa: BLE001 - h5py raises RuntimeError, KeyError, ValueError ... on corrupt headers
        conn.send(("error", f"not a readable HDF5 file ({type(exc).__name__}: {_first_line(exc)})"))
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


# --- the parent ------------------------------------------------------------------------------
def read_h5(source: Path | bytes, where: str, *, skip: tuple[str, ...] = (),
            trusted: bool = False) -> H5Group:
    """The whole HDF5 file (a path or the bytes of one) as an ``H5Group`` tree, read in a child
    process (``engine.system.child``: a clean interpreter); ``skip`` names top-level groups not to copy
    (optimizer state). ``trusted`` files (the bundled demos) are read in this process: opening
    the app stays fast. A reader that read a small file without error is kept for the next
    read (starting one costs an interpreter, numpy and h5py: about 0.5 s of CPU)."""
    source = source if isinstance(source, bytes) else str(source)
    if trusted:
        return _walk(source, skip)
    key = _reader_key()
    proc = _take_reader(key)
    keep = False
    try:
        with tracked(proc):
            proc.conn.send((source, skip))
            tree = _wait(proc, proc.conn, where)
            keep = _size_of(source) <= KEEP_READER_BELOW
            return tree
    except (BrokenPipeError, ConnectionResetError):      # it died before reading the request
        proc.join(timeout=1)
        raise ModelFileError(f"{where}: the HDF5 reader ended without an answer "
                             f"({proc.ended_without_answer()})") from None
    finally:
        if keep:
            _keep_reader(key, proc)
        else:
            proc.close()


# --- the warm reader ---------------------------------------------------------------------------
KEEP_READER_BELOW = 64 * 1024**2     # after a bigger file, a fresh reader: give its memory back
_WARM = WarmChildren()


def _reader_key() -> tuple[Any, ...]:
    """What a reader was started with: one is reused only under the same program, interpreter,
    environment (the memory budget is read from it) and package."""
    return READER, sys.executable, environment_key(), str(PACKAGE_ROOT)


def _size_of(source: str | bytes) -> int:
    if isinstance(source, bytes):
        return len(source)
    try:
        return os.path.getsize(source)
    except OSError:
        return KEEP_READER_BELOW + 1


def _take_reader(key: tuple[Any, ...]) -> Child:
    """The waiting reader started with ``key``, or a new one."""
    return _WARM.take(key) or Child(READER, env={"LSTM_SCOPE_MEMORY_BUDGET": str(memory_budget())},
                                    what="the HDF5 reader")


def _keep_reader(key: tuple[Any, ...], proc: Child) -> None:
    _WARM.keep(key, proc)


def close_idle_readers() -> None:
    """Stop the waiting reader (at exit; tests that count the readers they start)."""
    _WARM.close_all()


def _cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used (Linux /proc), or None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def tracked(proc: Any) -> Iterator[None]:
    """While inside, ``cancel_reads`` (the window's Cancel) kills ``proc``: every bounded child
    (HDF5 reader, Keras capture worker) is registered here."""
    with _LOCK:
        _ACTIVE.add(proc)
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE.discard(proc)


WAITING = object()      # receive(): nothing yet, the child is still working


def receive(proc: Any, conn: Any, timeout: float) -> Any:
    """The child's next message; ``WAITING`` when none came within ``timeout`` seconds; None
    when the child ended (or its pipe broke) without one."""
    try:
        ready = conn.poll(timeout)
    except (OSError, EOFError):
        ready = False
    if not ready:
        return None if not proc.is_alive() and not conn.poll(0) else WAITING
    try:
        return conn.recv()
    except (EOFError, OSError):
        return None


class Watchdog:
    """Has the reader gone ``limit`` seconds without progress? Counted in the reader's own CPU
    time where the system reports it (a corrupt heap makes HDF5 spin at 100% CPU, while a
    reader merely starved by a busy machine uses none), with wall time ``WALL_FACTOR`` times
    longer as the bound for a reader that is stuck without spinning."""

    WALL_FACTOR = 5

    def __init__(self, pid: int, limit: float) -> None:
        self.pid, self.limit = pid, limit
        self.reset(first=True)

    def reset(self, first: bool = False) -> None:
        self.wall = time.monotonic() + (max(self.limit, 60.0) if first else 0.0)
        self.cpu = _cpu_seconds(self.pid)

    def expired(self) -> bool:
        waited = time.monotonic() - self.wall
        if waited > self.limit * self.WALL_FACTOR:
            return True
        now = _cpu_seconds(self.pid)
        if now is None or self.cpu is None:
            return waited > self.limit
        return waited > 0 and now - self.cpu > self.limit


def _wait(proc: Any, conn: Any, where: str) -> H5Group:
    limit = read_timeout()
    dog = Watchdog(proc.pid, limit)    # before "ready" (importing h5py) it waits 60 s more
    while True:
        if dog.expired():
            raise ModelFileError(
                f"{where}: reading the file's HDF5 structure made no progress for {limit:g} s "
                f"(a corrupt file can make the HDF5 library loop forever); abandoned")
        message = receive(proc, conn, 0.25)
        if message is WAITING:
            continue
        if message is None:
            break
        kind, payload = message
        if kind in ("ready", "progress"):
            dog.reset()
            continue
        if kind == "done":
            return payload
        if kind == "budget":
            raise BudgetError(f"{where}: {payload}")
        raise ModelFileError(f"{where}: {payload}")
    proc.join(timeout=1)
    if proc.exitcode == -signal.SIGKILL:
        raise ReadCancelled(f"{where}: loading was cancelled")
    raise ModelFileError(f"{where}: the HDF5 reader ended without an answer "
                         f"({proc.ended_without_answer()}); the file is probably corrupt")


def cancel_reads() -> None:
    """Kill every running reader (the window's Cancel): their loads fail with ReadCancelled."""
    with _LOCK:
        procs = list(_ACTIVE)
    for proc in procs:
        if proc.is_alive():
            proc.kill()


__all__ = ["WAITING", "H5Group", "ReadCancelled", "Watchdog", "cancel_reads", "memory_budget", "read_h5",
           "read_timeout", "receive", "tracked"]
