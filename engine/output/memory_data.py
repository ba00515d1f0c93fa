"""The memory view's numbers as a file: an mLSTM's matrix memory C at the cursor
(``engine.analyses.memory.memory_at``), as NPZ or one CSV row per head, key and value dimension,
written through the one atomic writer (docs/architecture.md, "mLSTM")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..analyses.memory import memory_at
from ..system.files import check_output
from .export import atomic_write, write_csv, write_npz


def export_memory_data(path: str | Path, session: Any, ctx: Any, *, inputs=()) -> Path:
    """Write the memory view's numbers: .npz (``C`` (heads, DH, DH) of the sample at the cursor,
    ``meta``) or .csv (one row per head, key and value dimension)."""
    path = Path(path)
    check_output(path, inputs=inputs)
    c = memory_at(session, ctx.sample, session.cursor)
    if path.suffix.lower() == ".npz":
        with atomic_write(path, inputs=inputs) as fh:
            write_npz(fh, {"C": c}, ctx.describe())
        return path
    rows = [[k, i, j, f"{c[k, i, j]:.9g}"] for k, i, j in np.ndindex(c.shape)]
    with atomic_write(path, text=True, inputs=inputs) as fh:
        write_csv(fh, ["head", "key_dim", "value_dim", "C"], rows)
    return path
