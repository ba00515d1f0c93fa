"""Reading zip archives and ``.npy`` arrays from untrusted files without trusting their sizes.

Every size a file declares (a zip member's uncompressed size, an ``.npy`` header's shape) is
checked against the memory budget and against the bytes actually present *before* anything is
inflated or allocated; every way a corrupt header or stream fails (``zlib.error``,
``tokenize.TokenError``, ``BadZipFile``, ``EOFError`` ...) becomes one line naming the file
(see docs/architecture.md, "Files in, files out").
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import ScopeError, describe
from .budget import array_bytes, check_bytes

MAX_HEADER = 10_000
# What a corrupt archive or stream raises besides OSError (zlib, bz2/lzma, encrypted members).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
              RuntimeError, ValueError, KeyError, OverflowError)


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


class BadMemberName(zipfile.BadZipFile):
    """A member name marked UTF-8 in the archive that is not UTF-8."""


def zip_archive(path: Path | IO[bytes]) -> zipfile.ZipFile:
    """``zipfile.ZipFile(path)`` for reading, the one way LSTM Scope opens a zip: a member name
    the archive marks as UTF-8 but that is not (zipfile raises UnicodeDecodeError, torch's
    reader too) becomes ``BadMemberName``, a ``BadZipFile`` every reader already reports in one
    line."""
    try:
        return zipfile.ZipFile(path)
    except UnicodeDecodeError as exc:
        raise BadMemberName(bad_name_text(exc)) from None


def bad_name_text(exc: UnicodeDecodeError) -> str:
    """What a member name that is not UTF-8 means, in the user's terms."""
    return (f"a member name holds byte 0x{exc.object[exc.start]:02x}, not valid UTF-8 although "
            f"the archive marks its names as UTF-8: the archive is damaged or was written by a "
            f"tool that got names wrong")


@contextmanager
def open_zip(path: Path | IO[bytes], where: str, error: type[ScopeError],
             what: str = "archive") -> Iterator[zipfile.ZipFile]:
    """A ZipFile whose opening and reading errors become ``error`` naming ``where``."""
    try:
        zf = zip_archive(path)
    except ZIP_ERRORS as exc:
        raise error(f"{where}: not a readable {what} ({_short(exc)})") from None
    with zf:
        yield zf


def member_size(zf: zipfile.ZipFile, name: str, where: str, error: type[ScopeError]) -> int:
    """A member's declared uncompressed size, checked against the budget."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise error(f"{where}: the archive has no member {name!r}") from None
    check_bytes(info.file_size, f"{where}: the member {name!r}", error=error)
    return info.file_size


def read_member(zf: zipfile.ZipFile, name: str, where: str, error: type[ScopeError]) -> bytes:
    """A member's bytes; its declared size is checked before it is inflated (deflate bombs)."""
    size = member_size(zf, name, where, error)
    try:
        with zf.open(name) as fh:
            data = fh.read(size + 1)
    except ZIP_ERRORS as exc:
        raise error(f"{where}: the member {name!r} is corrupt ({_short(exc)})") from None
    if len(data) != size:
        raise error(f"{where}: the member {name!r} is corrupt (declares {size} bytes, "
                    f"holds {len(data)})")
    return data


def read_npy(fh: IO[bytes], size: int, where: str, error: type[ScopeError], *,
             as_float32: bool = False) -> np.ndarray:
    """One ``.npy`` array from ``fh`` (``size`` bytes in all), never allocating more than the
    header's shape, and only after that shape fits the budget and the bytes present.
    ``as_float32``: the caller will convert it to float32 (an input, a state), so that copy
    counts against the budget too: 36 MB of uint8 become 144 MB."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh, max_header_size=MAX_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fh, max_header_size=MAX_HEADER)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
        start = fh.tell()
    except Exception as exc:  # noqa: BLE001 - numpy's header parser raises ValueError, SyntaxError, tokenize.TokenError, UnicodeDecodeError ...
        raise error(f"{where}: not a readable .npy array (corrupt header: {_short(exc)})") from None
    if dtype.hasobject:
        raise error(f"{where}: the array holds Python objects (dtype {dtype}), not numbers")
    if any(int(d) < 0 for d in shape):
        raise error(f"{where}: the .npy header declares a negative shape {shape}")
    nbytes = array_bytes(shape, dtype.itemsize)
    if as_float32 and dtype != np.float32:
        check_bytes(nbytes + array_bytes(shape, 4), f"{where}: the array {tuple(shape)} {dtype} "
                    f"with its float32 copy", error=error)
    check_bytes(nbytes, f"{where}: the array {tuple(shape)} {dtype}", error=error)
    if nbytes > size - start:
        raise error(f"{where}: the array is truncated (its header declares {nbytes} bytes of "
                    f"data, the file holds {max(size - start, 0)})")
    count = nbytes // dtype.itemsize if dtype.itemsize else int(np.prod(shape, dtype=np.int64))
    flat = np.empty(count, dtype)
    if nbytes:
        view = memoryview(flat.view(np.uint8).reshape(-1))
        got = 0
        try:
            while got < nbytes:
                n = fh.readinto(view[got:])
                if not n:
                    break
                got += n
        except ZIP_ERRORS as exc:
            raise error(f"{where}: the array data is corrupt ({_short(exc)})") from None
        if got != nbytes:
            raise error(f"{where}: the array is truncated ({got} of {nbytes} bytes)")
    if fortran:
        return flat.reshape(tuple(shape)[::-1]).transpose()
    return flat.reshape(tuple(shape))


def load_npy_file(path: Path, error: type[ScopeError], *, as_float32: bool = False) -> np.ndarray:
    where = describe(path)
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            return read_npy(fh, size, where, error, as_float32=as_float32)
    except OSError as exc:
        raise error(f"{where}: cannot read the file ({exc.strerror or _short(exc)})") from None


def load_npy_bytes(data: bytes, where: str, error: type[ScopeError], *,
                   as_float32: bool = False) -> np.ndarray:
    import io
    return read_npy(io.BytesIO(data), len(data), where, error, as_float32=as_float32)


class NpzArchive:
    """The arrays of an ``.npz`` by name (``NAME.npy`` members), read one at a time with their
    declared sizes checked; ``with NpzArchive(path, ErrorClass) as z: z.files, z[name]``.
    ``as_float32``: each array's float32 copy counts against the budget too (``read_npy``)."""

    def __init__(self, path: Path, error: type[ScopeError], *, as_float32: bool = False) -> None:
        self.path = Path(path)
        self.as_float32 = as_float32
        self.where = describe(path)
        self.error = error
        self._zip: zipfile.ZipFile | None = None
        self._cm: Any = None
        self._members: dict[str, str] = {}

    def __enter__(self) -> NpzArchive:
        self._cm = open_zip(self.path, self.where, self.error, ".npz archive")
        self._zip = self._cm.__enter__()
        for name in self._zip.namelist():
            if name.endswith(".npy"):
                self._members.setdefault(name[:-4], name)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)

    @property
    def files(self) -> list[str]:
        return list(self._members)

    def __contains__(self, key: str) -> bool:
        return key in self._members

    def header(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        """(shape, dtype) of one array, from its ``.npy`` header alone (nothing inflated beyond
        it)."""
        assert self._zip is not None
        fmt = np.lib.format
        try:
            with self._zip.open(self._members[key]) as fh:
                version = fmt.read_magic(fh)
                read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                shape, _fortran, dtype = read(fh, max_header_size=MAX_HEADER)
        except Exception as exc:  # noqa: BLE001 - as read_npy: a corrupt header is one line
            raise self.error(f"{self.where}: array {key!r} is corrupt ({_short(exc)})") from None
        return tuple(int(d) for d in shape), dtype

    def listing(self, limit: int = 12) -> str:
        """``name (shape) dtype`` of each array, for a message that asks the user to choose."""
        items = [f"{k} {self.header(k)[0]} {self.header(k)[1]}" for k in self.files[:limit]]
        more = len(self.files) - limit
        return ", ".join(items) + (f", ... ({more} more)" if more > 0 else "")

    def __getitem__(self, key: str) -> np.ndarray:
        assert self._zip is not None
        member = self._members[key]
        where = f"{self.where}: array {key!r}"
        size = member_size(self._zip, member, self.where, self.error)
        try:
            with self._zip.open(member) as fh:
                return read_npy(fh, size, where, self.error, as_float32=self.as_float32)
        except ZIP_ERRORS as exc:
            raise self.error(f"{where} is corrupt ({_short(exc)})") from None
