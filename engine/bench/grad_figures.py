"""Gradient figures: the exact backward pass through a recorded run versus torch autograd.

``grad_ms``: ``result.grad("sumsq(output[:, last])")`` on a traced run of T=2000, D=32, N=256,
batch 1 (the whole backward pass: seeding, the loop over time, dx), median of repeats.
``torch_grad_ms``: ``torch.autograd.grad(target, (x, h0, c0))`` for the same target on an
``nn.LSTM`` with the same weights (its forward graph built beforehand, as our trace is),
one thread (reported; our loop's matmuls are (1, 4N) x (4N, N), which BLAS runs on one
thread, and torch's thread pool on a shared two-core machine spends most of its time waiting).
``grad_vs_torch_grad`` is their ratio, measured in the same run; the two gradients are checked
equal first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.bench.engine_figures import _median_ms, bench_model, torch_lstm_of


def grad_figures(steps: int = 2000, features: int = 32, units: int = 256,
                 repeat: int = 5) -> dict[str, Any]:
    model = bench_model(units, features)
    x = np.random.default_rng(1).normal(size=(1, steps, features)).astype(np.float32)
    result = model.trace(x)
    target = "sumsq(output[:, last])"
    ours = result.grad(target)                   # warm-up (and the tape of the run)
    out: dict[str, Any] = {"grad_ms": round(_median_ms(lambda: result.grad(target), repeat), 2)}
    torch_ms = _torch_grad_ms(model, x, ours.dx, repeat)
    if torch_ms is not None:
        out["torch_grad_ms"] = round(torch_ms[0], 2)
        out["torch_threads"] = torch_ms[1]
        out["grad_vs_torch_grad"] = round(out["grad_ms"] / torch_ms[0], 2)
    return out


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
        ms = _median_ms(lambda: torch.autograd.grad(value, (xt, h0, c0), retain_graph=True), repeat)
    finally:
        torch.set_num_threads(threads)
    return ms, 1
