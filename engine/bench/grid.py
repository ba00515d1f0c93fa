"""The trace against PyTorch's ``nn.LSTM`` forward over a grid of batch x units x length.

Each point builds one random LSTM (D=32) and an input, then times, in the same process and
alternately (so both sides see the same machine load): ``Model.trace`` (every array recorded)
and ``nn.LSTM`` forward on identical weights without autograd, both on one thread
(``torch.set_num_threads(1)``; main.py starts BLAS with one thread). Reported per point:

* ``trace_ms`` / ``torch_ms``: the best of ``repeat`` calls each, and ``ratio`` = their quotient;
  ``trace_cpu_ms`` / ``torch_cpu_ms`` / ``cpu_ratio`` the same in this thread's CPU time (both
  sides compute on the calling thread), which other processes on a busy machine do not inflate;
* ``first_ms`` and ``first_vs_later``: the first trace of the shape in this process against the
  best later one (what a fresh allocation of every recorded array costs; the compiled steps are
  loaded before the first point, once per process: their load is a start-up cost);
* ``spread``: the slowest repeated trace over the best (thread-pool or allocation cliffs);
* ``load``: the machine's 1-minute load average when the point started, beside ``cpus`` (a
  ratio measured on a machine busy with other work says so).

A point whose trace would exceed the memory budget (``engine.system.budget``) is skipped with that
reason. Omitted entirely (with a reason) when torch is not installed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from engine.bench.engine_figures import bench_model, torch_lstm_of

FEATURES = 32
BATCHES = (1, 8, 32, 128)
UNITS = (64, 256, 1024)
LENGTHS = (1000, 4000)
DEFAULT_POINTS = ((1, 256, 1000), (1, 1024, 1000), (32, 256, 1000), (32, 1024, 1000))
"""(batch, units, steps) of the default ``bench``: B=1 and B=32 at 256 and 1024 units."""


def full_grid() -> list[tuple[int, int, int]]:
    return [(b, n, t) for t in LENGTHS for n in UNITS for b in BATCHES]


def point_key(batch: int, units: int, steps: int) -> str:
    return f"B{batch}_N{units}_T{steps}"


def _seconds(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call; CPU is this thread's, where both sides compute on one
    thread, so on a machine shared with other work it counts ours alone."""
    start, cpu = time.perf_counter(), time.thread_time()
    fn()
    return time.perf_counter() - start, time.thread_time() - cpu


def measure_point(batch: int, units: int, steps: int, repeat: int = 3,
                  features: int = FEATURES, *, model_of: Callable[[int, int], Any] = bench_model,
                  torch_of: Callable[[Any], Any] = torch_lstm_of) -> dict[str, Any]:
    """One grid point (see the module docstring); the torch side checked equal first.
    ``model_of(units, features)`` builds the model and ``torch_of(model)`` its torch twin (the
    GRU figure passes its own: ``engine.bench.gru_figures``); the memory check is an LSTM's
    trace, the largest kind's."""
    from engine.system.budget import format_bytes, memory_budget
    from engine.system.presets import trace_bytes
    need = trace_bytes(batch, steps, units, features)
    if need > memory_budget():
        return {"skipped": f"the trace needs {format_bytes(need)}, more than the memory budget "
                           f"of {format_bytes(memory_budget())}"}
    import torch
    torch.set_num_threads(1)
    load = load_average()
    model = model_of(units, features)
    x = np.random.default_rng(1).normal(size=(batch, steps, features)).astype(np.float32)
    lstm = torch_of(model)
    xt = torch.from_numpy(x)

    def ours() -> Any:
        return model.trace(x)

    def theirs() -> Any:
        with torch.no_grad():
            return lstm(xt)
    start, cpu = time.perf_counter(), time.thread_time()
    result = ours()
    first, first_cpu = time.perf_counter() - start, time.thread_time() - cpu
    reference = theirs()[0].numpy()
    if not np.allclose(result.layer(0).h, reference, atol=1e-4):
        raise RuntimeError(f"torch and engine disagree at {point_key(batch, units, steps)}")
    del result, reference
    trace_s: list[tuple[float, float]] = []
    torch_s: list[tuple[float, float]] = []
    for _ in range(repeat):
        trace_s.append(_seconds(ours))
        torch_s.append(_seconds(theirs))
    best, best_torch = min(w for w, _ in trace_s), min(w for w, _ in torch_s)
    cpu, cpu_torch = min(c for _, c in trace_s), min(c for _, c in torch_s)
    return {"trace_ms": round(1000 * best, 2), "torch_ms": round(1000 * best_torch, 2),
            "ratio": round(best / best_torch, 2),
            "trace_cpu_ms": round(1000 * cpu, 2), "torch_cpu_ms": round(1000 * cpu_torch, 2),
            "cpu_ratio": round(cpu / cpu_torch, 2),
            "first_ms": round(1000 * first, 2), "first_vs_later": round(first / best, 2),
            "first_vs_later_cpu": round(first_cpu / cpu, 2),
            "spread": round(max(w for w, _ in trace_s) / best, 2), "repeat": repeat,
            "load": load, "cpus": os.cpu_count(),
            "threads": {"torch": torch.get_num_threads(), "blas": blas_threads()}}


def load_average() -> float | None:
    """The 1-minute load average (None where the system has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def blas_threads() -> int | None:
    """BLAS threads numpy uses, as threadpoolctl reports them (None when it is not installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(counts) if counts else None


def grid_figures(points: Iterable[tuple[int, int, int]] | None = None, repeat: int = 3,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``{"grid": {point: figures}}`` over ``points`` (default: the whole grid)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return {"grid": {"skipped": "torch is not installed: no baseline to compare with"}}
    points = list(full_grid() if points is None else points)
    from engine.runs.compiled import kernels
    kernels()               # loaded once per process, before any first trace (module docstring)
    out: dict[str, Any] = {}
    for k, (batch, units, steps) in enumerate(points, 1):
        key = point_key(batch, units, steps)
        if progress is not None:
            progress(f"grid point {k}/{len(points)}: {key}")
        out[key] = measure_point(batch, units, steps, repeat)
    return {"grid": out}


def grid_table(grid: dict[str, Any]) -> str:
    """The grid as a text table (one line per point)."""
    lines = [f"{'point':>20} {'trace ms':>10} {'torch ms':>10} {'ratio':>6} {'cpu ratio':>9} "
             f"{'first/later':>11} {'spread':>6} {'load':>5}"]
    for key, fig in grid.items():
        if not isinstance(fig, dict) or "skipped" in fig:
            reason = fig.get("skipped") if isinstance(fig, dict) else fig
            lines.append(f"{key:>20} skipped: {reason}")
            continue
        lines.append(f"{key:>20} {fig['trace_ms']:>10} {fig['torch_ms']:>10} {fig['ratio']:>6} "
                     f"{fig['cpu_ratio']:>9} {fig['first_vs_later']:>11} {fig['spread']:>6} "
                     f"{fig.get('load')!s:>5}")
    return "\n".join(lines)


def trace_figures(points: Sequence[tuple[int, int, int]] = DEFAULT_POINTS, repeat: int = 3,
                  progress=None) -> dict[str, Any]:
    """The default grid points (``bench`` measures them shorter unless ``--full``), with the
    first one's figures also under the old headline names (``trace_ms``, ``torch_forward_ms``,
    ``trace_vs_torch``)."""
    figures = grid_figures(points, repeat=repeat, progress=progress)["grid"]
    out: dict[str, Any] = {"trace": figures}
    head = figures.get(point_key(*points[0]), {})
    if "ratio" in head:
        out.update(trace_ms=head["trace_ms"], torch_forward_ms=head["torch_ms"],
                   trace_vs_torch=head["ratio"])
    return out
