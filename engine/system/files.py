"""Every file LSTM Scope reads or writes passes through here (see docs/architecture.md).

Writing: ``atomic_write`` is the one writer. Data goes to a temporary file in the target's own
folder, is flushed and fsynced, then renamed over the target, so a failure midway (disk full,
quota, a killed process) never leaves half a file nor truncates the old one. A command with
several outputs writes them inside ``outputs_together()``: every ``atomic_write`` there is
staged, and all are renamed only once every one is complete (a rename failing midway names the
outputs that are new and those left as they were).

Reading: ``check_readable`` refuses, before anything opens the file, paths that are not regular
files (named pipes block forever, ``/dev/zero`` never ends, ``/proc`` files lie about their
size), and ``check_output`` refuses an output that is one of the run's inputs (compared after
resolving symlinks, and by inode for hard links).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import ScopeError, describe

PathLike = str | os.PathLike

# Kernel pseudo-filesystems: their files report sizes that are not their contents.
_PSEUDO_ROOTS = ("/proc", "/sys", "/dev")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _under_pseudo_fs(path: Path) -> bool:
    text = str(path)
    if text.startswith("/dev/shm/"):        # shared memory holds ordinary files
        return False
    return any(text == root or text.startswith(root + "/") for root in _PSEUDO_ROOTS)


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _a(what: str) -> str:
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"


def check_readable(path: PathLike, what: str = "file", error: type[ScopeError] = ScopeError) -> Path:
    """``path`` as a regular, readable file, or ``error`` with one line saying why not.

    Never opens the file: a FIFO would block and a device would never end.
    """
    text = os.fspath(path)
    if text == "":
        raise error(f"no {what} given (the path is empty)")
    p = Path(text)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{describe(p)}: no such file") from None
    except OSError as exc:
        raise error(f"{describe(p)}: cannot read the {what} ({_os_reason(exc)})") from None
    except ValueError:          # an embedded NUL byte
        raise error(f"{describe(p)}: not a valid file name") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{describe(p)}: is a folder, not {_a(what)}")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{describe(p)}: is {_kind(st.st_mode)}, not a regular file; give {_a(what)} "
                    f"saved on disk")
    if _under_pseudo_fs(Path(os.path.realpath(p))):
        raise error(f"{describe(p)}: is a kernel pseudo-file (/proc, /sys, /dev), not {_a(what)}")
    if not os.access(p, os.R_OK):
        raise error(f"{describe(p)}: cannot read the {what} (permission denied)")
    return p


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name one file: equal after resolving symlinks, or one inode."""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_output(path: PathLike, *, inputs: Iterable[tuple[str, PathLike | None]] = (),
                 suffixes: tuple[str, ...] | None = None) -> Path:
    """Refuse, before any work, an output that cannot be written or would destroy an input.

    ``inputs`` are (role, path) pairs such as ("--input", "x.npz"); ``suffixes`` the endings the
    output may have (lower case, with the dot).
    """
    text = os.fspath(path)
    if text == "":
        raise ScopeError("no output file given (the path is empty)")
    p = Path(text)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise ScopeError(f"{describe(p)}: the output must end in {' or '.join(suffixes)} "
                         f"(for example {describe(p.with_name(p.name + suffixes[0]))})")
    for role, other in inputs:
        if other is not None and os.fspath(other) != "" and same_file(p, other):
            raise ScopeError(f"{describe(p)}: is also the {role}; writing it would destroy "
                             f"that file; choose another output name")
    try:
        target = Path(os.path.realpath(p))
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ScopeError(f"{describe(p)}: cannot write here ({_os_reason(exc)})") from None
    except ValueError:          # an embedded NUL byte
        raise ScopeError(f"{describe(p)}: not a valid file name") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise ScopeError(f"{describe(p)}: is a folder; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise ScopeError(f"{describe(p)}: is {_kind(st.st_mode)}, not a regular file; "
                             f"write to a file on disk")
    if _under_pseudo_fs(target):
        raise ScopeError(f"{describe(p)}: is in a kernel pseudo-filesystem (/proc, /sys, /dev); "
                         f"write to a file on disk")
    folder = target.parent
    if not os.path.isdir(folder):
        raise ScopeError(f"{describe(p)}: the folder {describe(folder)} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ScopeError(f"{describe(p)}: cannot write in the folder {describe(folder)} "
                         f"(permission denied)")
    if st is not None and not os.access(target, os.W_OK):
        raise ScopeError(f"{describe(p)}: the file is read-only (permission denied)")
    try:
        max_name = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        max_name = 255
    if len(os.fsencode(target.name)) > max_name:
        raise ScopeError(f"{describe(p)}: the file name is too long ({len(target.name)} "
                         f"characters; this folder allows {max_name})")
    return p


def atomic_write(path: PathLike, write: Callable[[Path], object] | None = None, *,
                 text: bool = False, inputs: Iterable[tuple[str, PathLike | None]] = ()) -> Any:
    """The one way LSTM Scope writes a file: ``with atomic_write(path) as fh: fh.write(...)``.

    The context manager yields a binary file (a UTF-8 text sink with newlines as written when
    ``text``) open on a temporary file beside the target (beside a symlink's target: the link is
    kept); on success it is fsynced and renamed over the target, on any failure removed, and
    the old file is left as it was. OSErrors become one ScopeError naming ``path``.
    ``atomic_write(path, write)`` instead calls ``write(temporary_path)`` and finishes at once.
    Inside ``outputs_together()`` the rename waits until the command's other outputs are
    complete too.
    """
    if write is None:
        return _atomic(path, text=text, inputs=inputs)
    with _atomic(path, inputs=inputs, want_path=True) as tmp:
        write(tmp)
    return None


@dataclass
class _Staged:
    """One complete output waiting for its rename: ``tmp`` holds it beside ``target``."""

    shown: Path                 # as the user named it (messages)
    target: Path                # symlinks resolved: what the rename replaces
    tmp: str | None
    existed: bool


class _Outputs:
    """The outputs of one command: staged as each is written, renamed together at the end."""

    def __init__(self) -> None:
        self.staged: list[_Staged] = []

    def check_new(self, p: Path) -> None:
        for item in self.staged:
            if same_file(item.shown, p):
                raise ScopeError(f"{describe(p)}: this command already writes that file "
                                 f"(as {describe(item.shown)}); choose another output name")

    def failed_write(self, p: Path, target: Path, exc: OSError) -> ScopeError:
        """A write failed before anything was renamed: nothing was written."""
        if not self.staged:
            kept = "the old file is unchanged" if target.exists() else "nothing was written"
        else:
            kept = "nothing was written" + (" (the old files are unchanged)"
                                            if target.exists() or any(i.existed for i in self.staged)
                                            else "")
        return ScopeError(f"{describe(p)}: could not write ({_os_reason(exc)}); {kept}")

    def commit(self) -> None:
        """Rename every staged output over its target, in order; a rename that fails says which
        outputs are new and which were left as they were."""
        for k, item in enumerate(self.staged):
            try:
                os.replace(item.tmp, item.target)
            except OSError as exc:
                left = self.staged[k:]
                self.discard()
                raise ScopeError(_midway(item, exc, self.staged[:k], left)) from None
            item.tmp = None
        for folder in dict.fromkeys(item.target.parent for item in self.staged):
            _fsync_folder(folder)

    def discard(self) -> None:
        for item in self.staged:
            _unlink(item.tmp)
            item.tmp = None


def _midway(item: _Staged, exc: OSError, done: list[_Staged], left: list[_Staged]) -> str:
    head = f"{describe(item.shown)}: could not write ({_os_reason(exc)})"
    if not done and len(left) == 1:
        return head + ("; the old file is unchanged" if item.existed else "; nothing was written")
    parts = []
    for group, one, many in ((done, "is new", "are new"),
                             ([i for i in left if i.existed], "is unchanged", "are unchanged"),
                             ([i for i in left if not i.existed], "was not written",
                              "were not written")):
        if group:
            names = [describe(i.shown) for i in group]
            parts.append(f"{' and '.join(names)} {one if len(names) == 1 else many}")
    return f"{head}; {', '.join(parts)}"


_OUTPUTS: ContextVar[_Outputs | None] = ContextVar("lstm_scope_outputs", default=None)


@contextmanager
def outputs_together() -> Iterator[None]:
    """The outputs of one command commit together: every ``atomic_write`` inside is written to
    its temporary file, and all are renamed over their targets only when every one is complete.
    Any failure inside removes them all and leaves every old file as it was. Nested, it joins
    the outer one."""
    if _OUTPUTS.get() is not None:
        yield
        return
    outputs = _Outputs()
    token = _OUTPUTS.set(outputs)
    try:
        yield
    except BaseException:
        outputs.discard()
        raise
    finally:
        _OUTPUTS.reset(token)
    outputs.commit()


@contextmanager
def _atomic(path: PathLike, *, text: bool = False, inputs: Iterable[tuple[str, PathLike | None]] = (),
            want_path: bool = False) -> Iterator[Any]:
    p = check_output(path, inputs=inputs)
    joined = _OUTPUTS.get()
    outputs = joined or _Outputs()
    outputs.check_new(p)
    target = Path(os.path.realpath(p))
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = 0o666 & ~_UMASK
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".lstmscope-", suffix=".part", dir=target.parent)
        with os.fdopen(fd, "wb") as raw:
            if want_path:
                yield Path(tmp)             # the caller writes by name; we sync this inode
            else:
                yield _TextSink(raw) if text else raw
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, mode)
        outputs.staged.append(_Staged(p, target, tmp, target.exists()))
        tmp = None
    except OSError as exc:
        raise outputs.failed_write(p, target, exc) from None
    finally:
        _unlink(tmp)
    if joined is None:
        outputs.commit()


def _unlink(tmp: str | None) -> None:
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass


class _TextSink:
    """A text view of the temporary file: UTF-8, newlines as written (what csv.writer wants)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def write(self, text: str) -> int:
        self._raw.write(text.encode("utf-8"))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)


def write_bytes(path: PathLike, data: bytes, **kwargs) -> None:
    """``data`` to ``path`` through ``atomic_write``."""
    with atomic_write(path, **kwargs) as fh:
        fh.write(data)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: some filesystems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["atomic_write", "check_output", "check_readable", "outputs_together", "same_file",
           "write_bytes"]
