"""What the sLSTM and mLSTM benches share: their command line and the best-of-N CPU timer.

Both time the engine's run of one xlstm cell against the package's own module in the same
process, so they take the same sizes (``--units``, ``--heads``, ``--steps``, ``--batch``,
``--repeat``) and report the same figure: CPU time, best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable


def best_cpu_seconds(fn: Callable[[], object], repeat: int) -> float:
    """The least CPU time of ``repeat`` calls: CPU, not wall, so another process's load does not count."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def cell_bench_args(argv: list[str] | None, *, units: list[int], steps: int,
                    batch: list[int]) -> argparse.Namespace:
    """The sizes one cell bench runs over, with that cell's defaults."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, nargs="+", default=units)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--batch", type=int, nargs="+", default=batch)
    ap.add_argument("--repeat", type=int, default=3)
    return ap.parse_args(argv)
