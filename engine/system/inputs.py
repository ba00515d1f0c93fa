"""Reading input sequences from files: .npy, .npz, .csv/.tsv (one row per timestep).

Readers return arrays as stored; ``Model.prepare_input`` decides what they mean for a model
(a 2-D float array is one (time, features) sequence, a 1-D array one token sequence). A CSV
or TSV file is always one sequence, returned as (1, T, columns).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..errors import InputFileError, describe
from .archives import NpzArchive, load_npy_file
from .budget import check_bytes
from .files import check_readable

# A CSV cell of a few characters becomes 4 bytes of float32, but the text, its lines and the
# parsed rows are all alive at once while reading: about this many bytes per byte of file.
CSV_BYTES_PER_BYTE = 12


def read_input(path: str | Path, key: str | None = None, columns: list[int] | None = None) -> np.ndarray:
    """Load an input array from a file, with one-line errors that name the file."""
    path = check_readable(path, "input file", InputFileError)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _check_numeric(path, load_npy_file(path, InputFileError, as_float32=True))
    if suffix == ".npz":
        with NpzArchive(path, InputFileError, as_float32=True) as data:
            return _one_array(path, data, key)
    if suffix in (".csv", ".tsv", ".txt"):
        return read_table(path, delimiter="\t" if suffix == ".tsv" else None, columns=columns)[None]
    raise InputFileError(f"{describe(path)}: unknown input format '{suffix}' (expected .npy, "
                         f".npz, .csv or .tsv)")


def read_model_input(path: str | Path, key: str | None, names: list[str],
                     notes: list[str] | None = None) -> np.ndarray | dict[str, np.ndarray]:
    """The input of a model with named inputs. One input: ``key``, else the .npz array named
    like the input (said in ``notes``), else the .npz's only array. Several: every array of the
    .npz by name (``key`` is refused: the names say which array feeds which input). The file
    is checked and opened once, and the choice made on the open archive."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not names:
        return read_input(path, key)
    if len(names) > 1 and key is not None:
        raise InputFileError(f"{path}: --key picks one array, but this model has {len(names)} "
                             f"inputs ({', '.join(names)}): the .npz gives one array per input name")
    path = check_readable(path, "input file", InputFileError)
    with NpzArchive(path, InputFileError, as_float32=True) as data:   # bounded, one-line errors
        if len(names) == 1:
            if key is None and names[0] in data and len(data.files) > 1:
                key = names[0]
                note = (f"took array '{key}' of {describe(path)}, named like the model's input "
                        f"(--key picks another)")
                if notes is not None and note not in notes:
                    notes.append(note)
            return _one_array(path, data, key)
        arrays = {name: _check_named(path, name, data[name]) for name in data.files}
    if not arrays:
        raise InputFileError(f"{describe(path)}: the .npz archive holds no arrays")
    return arrays


def _one_array(path: Path, data: NpzArchive, key: str | None) -> np.ndarray:
    """One array of an open .npz: ``key``, or the only one; with several and no ``key`` the
    choice is the user's, and the refusal lists what there is."""
    names = data.files
    if not names:
        raise InputFileError(f"{describe(path)}: the .npz archive holds no arrays")
    if key is None:
        if len(names) > 1:
            raise InputFileError(f"{describe(path)}: holds {len(names)} arrays; choose the "
                                 f"input with --key: {data.listing()}")
        key = names[0]
    elif key not in names:
        raise InputFileError(f"{describe(path)}: no array '{key}' (arrays: {', '.join(names)})")
    return _check_numeric(path, data[key])


def npz_keys(path: str | Path) -> list[str]:
    """Array names in an .npz file (for the input panel's chooser)."""
    path = check_readable(path, "input file", InputFileError)
    with NpzArchive(path, InputFileError) as data:
        return data.files


def _check_named(path: Path, name: str, arr: np.ndarray) -> np.ndarray:
    """One of several named model inputs: numbers; a scalar (a sample rate, a flag) is fine."""
    if arr.dtype.kind not in "biuf":
        raise InputFileError(f"{path}: array '{name}' has dtype {arr.dtype}, expected numbers")
    return arr


def _check_numeric(path: Path, arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind == "c":
        raise InputFileError(f"{describe(path)}: the array holds complex numbers ({arr.dtype}); "
                             f"LSTM Scope reads real numbers (drop the imaginary part yourself "
                             f"if it is zero)")
    if arr.dtype.kind not in "biuf":
        raise InputFileError(f"{describe(path)}: array has dtype {arr.dtype}, expected numbers")
    if arr.ndim == 0 or arr.size == 0:
        raise InputFileError(f"{describe(path)}: the array is empty (shape {arr.shape})")
    return arr


def read_table(path: str | Path, *, delimiter: str | None = None,
               columns: list[int] | None = None, text: str | None = None) -> np.ndarray:
    """A CSV/TSV file as a (T, C) float32 array; a non-numeric first row is a header.

    Blank lines are skipped. A row with a different number of cells, or a cell that is not a
    number, is an error naming the line and column.
    """
    path = Path(path)
    where = describe(path)
    if text is None:
        size = path.stat().st_size
        check_bytes(size * CSV_BYTES_PER_BYTE, f"{where}: reading this {size}-byte text file",
                    hint="save the input as .npy instead", error=InputFileError)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise InputFileError(f"{where}: not a text file (not UTF-8)") from None
        except OSError as exc:
            raise InputFileError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    if "\x00" in text:
        raise InputFileError(f"{where}: not a text file (it holds NUL bytes)")
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise InputFileError(f"{where}: the file is empty")
    if delimiter is None:
        sample = "\n".join(line for _, line in lines[:20])
        delimiter = "\t" if "\t" in sample else ";" if sample.count(";") > sample.count(",") else ","
    rows = [(n, _cells(line, delimiter, where, n)) for n, line in lines]
    first_n, first = rows[0]
    if not all(_is_number(cell) for cell in first):
        rows = rows[1:]
        if not rows:
            raise InputFileError(f"{where}: only a header row, no data")
    width = len(rows[0][1])
    values = np.empty((len(rows), width), np.float32)
    for r, (n, cells) in enumerate(rows):
        if len(cells) != width:
            raise InputFileError(f"{where}: line {n} has {len(cells)} columns, expected {width}")
        for c, cell in enumerate(cells):
            try:
                values[r, c] = float(cell)
            except ValueError:
                raise InputFileError(f"{where}: line {n}, column {c + 1}: {_cell_text(cell)} is "
                                     f"not a number") from None
    if columns is not None:
        bad = [c for c in columns if not 0 <= c < width]
        if bad:
            raise InputFileError(f"{where}: no column {bad[0]} (the file has {width} columns)")
        values = values[:, columns]
    return values


def _cells(line: str, delimiter: str, where: str, n: int) -> list[str]:
    """One line's cells; a quote left open is an error, not a header swallowing the row."""
    try:
        return next(csv.reader(io.StringIO(line), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise InputFileError(f"{where}: line {n} is not valid CSV ({exc}; a quote is not "
                             f"closed?)") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _cell_text(cell: str) -> str:
    text = cell.strip()
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"'{text}'" if text.isprintable() else repr(text)
