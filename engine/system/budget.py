"""One memory budget for everything LSTM Scope allocates from what a file or a user declares.

A file's own header says how big its contents are (a zip member's size, an ``.npy`` shape, an
HDF5 dataset's shape, an ONNX tensor's dims); a trace's size follows from the input's length
and the model's units. Each is checked against this budget *before* anything is read, inflated
or allocated, so a 2 TB header or a deflate bomb is one clear line, never ``MemoryError``
(see docs/architecture.md, "Files in, files out"). ``LSTM_SCOPE_MEMORY_BUDGET`` (bytes, or with a
K/M/G suffix) changes it.
"""

from __future__ import annotations

import os
import re
from functools import cache

from ..errors import ScopeError

DEFAULT_BUDGET = 2 * 1024**3
_SUFFIXES = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class BudgetError(ScopeError):
    """Something would need more memory than the budget allows."""


_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(?:i?b)?")
ACCEPTED = "a number of bytes, or of K, M, G or T bytes (for example 512M or 4G)"


def memory_budget() -> int:
    """The budget in bytes (environment override, else 2 GiB). A value that is not a size is
    refused with the forms it may take, never silently replaced."""
    raw = os.environ.get("LSTM_SCOPE_MEMORY_BUDGET", "")
    text = raw.strip().lower()
    if not text:
        return DEFAULT_BUDGET
    match = _SIZE.fullmatch(text)
    if match is None:
        raise BudgetError(f"LSTM_SCOPE_MEMORY_BUDGET={raw.strip()}: not a size; give {ACCEPTED}")
    value = int(float(match[1]) * _SUFFIXES.get(match[2], 1))
    if value <= 0:
        raise BudgetError(f"LSTM_SCOPE_MEMORY_BUDGET={raw.strip()}: the budget must be more than "
                          f"0 bytes; give {ACCEPTED}")
    return value


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@cache
def _over_budget(error: type[ScopeError]) -> type[ScopeError]:
    """``error`` that is also a BudgetError: a caller can tell "too big" from "malformed"
    whatever class the reader reports its file's problems with."""
    if issubclass(BudgetError, error):          # ScopeError itself: BudgetError says both
        return BudgetError
    if issubclass(error, BudgetError):
        return error
    return type(error.__name__, (BudgetError, error), {"__module__": error.__module__})


def check_bytes(need: int, what: str, *, hint: str = "", error: type[ScopeError] = BudgetError) -> None:
    """Refuse ``need`` bytes above the budget, with a line saying what and what to do (the
    exception is an ``error`` and a ``BudgetError``)."""
    budget = memory_budget()
    if need > budget:
        raise _over_budget(error)(f"{what} needs {format_bytes(need)} of memory, more than LSTM Scope's budget "
                    f"of {format_bytes(budget)}" + (f"; {hint}" if hint else ""))


def array_bytes(shape: tuple[int, ...], itemsize: int) -> int:
    """Bytes an array of ``shape`` takes (Python ints: no overflow on absurd headers)."""
    count = 1
    for dim in shape:
        count *= int(dim)
    return count * int(itemsize)
