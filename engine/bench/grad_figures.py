"""Gradient figures: the exact backward pass through a recorded run versus torch autograd.

``grad_ms``: ``result.grad("sumsq(output[:, last])")`` on a traced run of D=32 at batch 1 (the
whole backward pass: seeding, the loop over time, dx), best of repeats, at the grid's batch-1
points (N = 64, 256, 1024; ``bench`` runs them at a shorter T unless ``--full``).
``torch_grad_ms``: ``torch.autograd.grad(target, (x, h0, c0))`` for the same target on an
``nn.LSTM`` with the same weights (its forward graph built beforehand, as our trace is),
one thread (reported; our loop's matmuls are (1, 4N) x (4N, N), which BLAS runs on one
thread, and torch's thread pool on a shared two-core machine spends most of its time waiting).
``grad_vs_torch_grad`` is their ratio, measured in the same run; the two gradients are checked
equal first.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.bench.engine_figures import bench_model, torch_lstm_of

GRAD_UNITS = (64, 256, 1024)
"""Units of the ``grad`` figure's batch-1 points (the grid's; ``bench`` picks their length)."""
GRAD_POINTS = tuple((n, 1000) for n in GRAD_UNITS)
"""(units, steps) at batch 1 at the grid's T=1000 (``bench --full``)."""


def grad_point(units: int, steps: int, features: int = 32, repeat: int = 3) -> dict[str, Any]:
    """One batch-1 point: our backward pass against torch's, best of ``repeat`` each."""
    model = bench_model(units, features)
    x = np.random.default_rng(1).normal(size=(1, steps, features)).astype(np.float32)
    result = model.trace(x)
    target = "sumsq(output[:, last])"
    ours = result.grad(target)                   # warm-up (and the tape of the run)
    out: dict[str, Any] = {"grad_ms": round(_best_ms(lambda: result.grad(target), repeat), 2)}
    torch_ms = _torch_grad_ms(model, x, ours.dx, repeat)
    if torch_ms is not None:
        out["torch_grad_ms"] = round(torch_ms[0], 2)
        out["torch_threads"] = torch_ms[1]
        out["grad_vs_torch_grad"] = round(out["grad_ms"] / torch_ms[0], 2)
    return out


def grad_figures(points=GRAD_POINTS, repeat: int = 3, progress=None) -> dict[str, Any]:
    """Every point keyed ``B1_N{units}_T{steps}``; the first N=256 point also under the
    headline names ``grad_ms``, ``torch_grad_ms``, ``grad_vs_torch_grad``."""
    grads: dict[str, Any] = {}
    for k, (units, steps) in enumerate(points, 1):
        key = f"B1_N{units}_T{steps}"
        if progress is not None:
            progress(f"grad point {k}/{len(points)}: {key}")
        grads[key] = grad_point(units, steps, repeat=repeat)
    out: dict[str, Any] = {"grad": grads}
    head = next((grads[f"B1_N{n}_T{t}"] for n, t in points if n == 256), None)
    if head:
        out.update(head)
    return out


def _best_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return min(times)


def _torch_grad_ms(model, x: np.ndarray, dx: np.ndarray, repeat: int) -> tuple[float, int] | None:
    try:
        import torch
    except ImportError:
        return None
    lstm = torch_lstm_of(model)
    n = lstm.hidden_size
    for p in lstm.parameters():
        p.requires_grad_(False)               # gradients w.r.t. (x, h0, c0) only, like ours
    xt = torch.from_numpy(x).requires_grad_(True)
    h0 = torch.zeros(1, 1, n, requires_grad=True)
    c0 = torch.zeros(1, 1, n, requires_grad=True)
    y, _ = lstm(xt, (h0, c0))
    value = (y[:, -1] ** 2).sum()
    theirs = torch.autograd.grad(value, (xt, h0, c0), retain_graph=True)[0].numpy()
    scale = float(np.abs(theirs).max()) or 1.0
    if not np.allclose(dx, theirs, atol=1e-4 * scale, rtol=1e-3):
        raise RuntimeError("torch and engine disagree on the benchmark gradient")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ms = _best_ms(lambda: torch.autograd.grad(value, (xt, h0, c0), retain_graph=True), repeat)
    finally:
        torch.set_num_threads(threads)
    return ms, 1
