"""Engine figures: a full traced run versus PyTorch's nn.LSTM on the same weights, same run.

For each case (T=2000, D=32; N=256 batch 1, N=1024 batch 1, N=256 batch 32) ``trace_ms`` is a
full run with every array recorded and ``torch_forward_ms`` an ``nn.LSTM`` forward on identical
weights and input (no autograd), both the median of interleaved repeats. Both sides run single
threaded (``torch.set_num_threads(1)``; main.py starts BLAS with one thread): on a shared
2-core machine BLAS threads waiting for each other made a (256, 32) x (32, 1024) product 20x
slower, which measures the neighbours, not the engine. The torch case is omitted when torch is
not installed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.cell import CellWeights
from engine.layers import LSTM
from engine.model import Model

CASES = ((256, 1), (1024, 1), (256, 32))      # (units, batch) at T=2000, D=32


def bench_model(units: int, features: int, seed: int = 0) -> Model:
    rng = np.random.default_rng(seed)
    cell = CellWeights(rng.normal(0, 0.2, (features, 4 * units)).astype(np.float32),
                       rng.normal(0, 0.1, (units, 4 * units)).astype(np.float32),
                       rng.normal(0, 0.1, 4 * units).astype(np.float32))
    return Model([LSTM("lstm", cell, return_sequences=True)], source="bench", format="bench")


def _median_ms(fn, repeat: int) -> float:
    """Median wall time of ``repeat`` calls, in ms (every bench figure's one timer)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def trace_case(units: int, batch: int, steps: int = 2000, features: int = 32,
               repeat: int = 5) -> dict[str, Any]:
    """One case: our trace and torch's forward timed alternately (the same machine load)."""
    model = bench_model(units, features)
    x = np.random.default_rng(1).normal(size=(batch, steps, features)).astype(np.float32)
    ours = lambda: model.trace(x)  # noqa: E731
    ours()                                         # warm-up: page faults, caches
    theirs = _torch_forward(model, x)
    times: list[float] = []
    ratios: list[float] = []
    torch_times: list[float] = []
    for _ in range(repeat):
        t = _seconds(ours)
        times.append(t)
        if theirs is not None:
            tt = _seconds(theirs)
            torch_times.append(tt)
            ratios.append(t / tt)
    key = f"N{units}_B{batch}"
    out: dict[str, Any] = {f"trace_ms_{key}": round(1000 * float(np.median(times)), 2)}
    if ratios:
        out[f"torch_forward_ms_{key}"] = round(1000 * float(np.median(torch_times)), 2)
        out[f"trace_vs_torch_{key}"] = round(float(np.median(ratios)), 2)
    return out


def engine_figures(steps: int = 2000, features: int = 32, repeat: int = 5,
                   cases: tuple[tuple[int, int], ...] = CASES) -> dict[str, Any]:
    out: dict[str, Any] = {"trace_steps": steps, "trace_features": features}
    for units, batch in cases:
        big = units * batch > 256
        out.update(trace_case(units, batch, steps, features, max(3, repeat - 2) if big else repeat))
    first = f"N{cases[0][0]}_B{cases[0][1]}"     # the headline figure, under its old names
    out["trace_ms"] = out[f"trace_ms_{first}"]
    if f"trace_vs_torch_{first}" in out:
        out["torch_forward_ms"] = out[f"torch_forward_ms_{first}"]
        out["trace_vs_torch"] = out[f"trace_vs_torch_{first}"]
    return out


def torch_lstm_of(model: Model):
    """A ``torch.nn.LSTM`` holding the model's first traced layer's weights (the baseline the
    trace and gradient figures are measured against). Keras (D, 4N) columns i, f, g, o become
    torch's (4N, D) rows i, f, g, o: a transpose, same order."""
    import torch
    w = model.traced_layers[0].weights
    lstm = torch.nn.LSTM(w.input_dim, w.units, batch_first=True)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(w.kernel.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(w.recurrent_kernel.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(w.bias.copy()))
        lstm.bias_hh_l0.zero_()
    return lstm


def _torch_forward(model: Model, x: np.ndarray):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    lstm = torch_lstm_of(model)
    xt = torch.from_numpy(x)

    def forward() -> None:
        with torch.no_grad():
            lstm(xt)
    with torch.no_grad():
        ours = model.trace(x).layer(0).h
        if not np.allclose(ours, lstm(xt)[0].numpy(), atol=1e-4):
            raise RuntimeError("torch and engine disagree on the benchmark model")
    forward()
    return forward
