"""Reading input sequences from files: .npy, .npz, .csv/.tsv (one row per timestep).

Readers return arrays as stored; ``Model.prepare_input`` decides what they mean for a model
(a 2-D float array is one (time, features) sequence, a 1-D array one token sequence). A CSV
or TSV file is always one sequence, returned as (1, T, columns).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np

from .errors import InputFileError


def read_input(path: str | Path, key: str | None = None, columns: list[int] | None = None) -> np.ndarray:
    """Load an input array from a file, with one-line errors that name the file."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, not an input file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path)
    if suffix == ".npz":
        return _read_npz(path, key)
    if suffix in (".csv", ".tsv", ".txt"):
        return read_table(path, delimiter="\t" if suffix == ".tsv" else None, columns=columns)[None]
    raise InputFileError(f"{path}: unknown input format '{suffix}' (expected .npy, .npz, .csv or .tsv)")


def _read_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputFileError(f"{path}: not a readable .npy array ({_short(exc)})") from None
    return _check_numeric(path, arr)


def read_model_input(path: str | Path, key: str | None, names: list[str]
                     ) -> np.ndarray | dict[str, np.ndarray]:
    """The input of a model with named inputs. One input: ``key``, else the .npz array named
    like the input, else the first. Several: every array of the .npz by name (``key`` is
    refused: the names say which array feeds which input)."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not names:
        return read_input(path, key)
    if len(names) == 1:
        if key is None and names[0] in npz_keys(path):
            key = names[0]
        return read_input(path, key)
    if key is not None:
        raise InputFileError(f"{path}: --key picks one array, but this model has {len(names)} "
                             f"inputs ({', '.join(names)}): the .npz gives one array per input name")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: _check_named(path, name, data[name]) for name in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputFileError(f"{path}: not a readable .npz archive ({_short(exc)})") from None
    if not arrays:
        raise InputFileError(f"{path}: the .npz archive holds no arrays")
    return arrays


def _read_npz(path: Path, key: str | None) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            if not names:
                raise InputFileError(f"{path}: the .npz archive holds no arrays")
            if key is None:
                key = names[0]
            elif key not in names:
                raise InputFileError(f"{path}: no array '{key}' (arrays: {', '.join(names)})")
            arr = data[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputFileError(f"{path}: not a readable .npz archive ({_short(exc)})") from None
    return _check_numeric(path, arr)


def npz_keys(path: str | Path) -> list[str]:
    """Array names in an .npz file (for the input panel's chooser)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return list(data.files)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputFileError(f"{path}: not a readable .npz archive ({_short(exc)})") from None


def _check_named(path: Path, name: str, arr: np.ndarray) -> np.ndarray:
    """One of several named model inputs: numbers; a scalar (a sample rate, a flag) is fine."""
    if arr.dtype.kind not in "biuf":
        raise InputFileError(f"{path}: array '{name}' has dtype {arr.dtype}, expected numbers")
    return arr


def _check_numeric(path: Path, arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise InputFileError(f"{path}: array has dtype {arr.dtype}, expected numbers")
    if arr.ndim == 0 or arr.size == 0:
        raise InputFileError(f"{path}: the array is empty (shape {arr.shape})")
    return arr


def read_table(path: str | Path, *, delimiter: str | None = None,
               columns: list[int] | None = None, text: str | None = None) -> np.ndarray:
    """A CSV/TSV file as a (T, C) float32 array; a non-numeric first row is a header.

    Blank lines are skipped. A row with a different number of cells, or a cell that is not a
    number, is an error naming the line and column.
    """
    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise InputFileError(f"{path}: not a text file") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise InputFileError(f"{path}: the file is empty")
    if delimiter is None:
        sample = "\n".join(line for _, line in lines[:20])
        delimiter = "\t" if "\t" in sample else ";" if sample.count(";") > sample.count(",") else ","
    rows = [(n, next(csv.reader(io.StringIO(line), delimiter=delimiter))) for n, line in lines]
    first_n, first = rows[0]
    if not all(_is_number(cell) for cell in first):
        rows = rows[1:]
        if not rows:
            raise InputFileError(f"{path}: only a header row, no data")
    width = len(rows[0][1])
    values = np.empty((len(rows), width), np.float32)
    for r, (n, cells) in enumerate(rows):
        if len(cells) != width:
            raise InputFileError(f"{path}: line {n} has {len(cells)} columns, expected {width}")
        for c, cell in enumerate(cells):
            try:
                values[r, c] = float(cell)
            except ValueError:
                raise InputFileError(f"{path}: line {n}, column {c + 1}: '{cell.strip()}' is not "
                                     f"a number") from None
    if columns is not None:
        bad = [c for c in columns if not 0 <= c < width]
        if bad:
            raise InputFileError(f"{path}: no column {bad[0]} (the file has {width} columns)")
        values = values[:, columns]
    return values


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
