"""Engine figures: a full traced run versus PyTorch's nn.LSTM on the same weights.

``trace_ms``: T=2000, D=32, N=256, batch 1, every array recorded (median of repeats).
``torch_forward_ms``: ``nn.LSTM`` forward on identical weights and input, single thread-count
as configured by torch, no autograd; omitted when torch is not installed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.cell import CellWeights
from engine.layers import LSTM
from engine.model import Model


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


def bench_model(units: int, features: int, seed: int = 0) -> Model:
    rng = np.random.default_rng(seed)
    cell = CellWeights(rng.normal(0, 0.2, (features, 4 * units)).astype(np.float32),
                       rng.normal(0, 0.1, (units, 4 * units)).astype(np.float32),
                       rng.normal(0, 0.1, 4 * units).astype(np.float32))
    return Model([LSTM("lstm", cell, return_sequences=True)], source="bench", format="bench")


def engine_figures(steps: int = 2000, features: int = 32, units: int = 256,
                   repeat: int = 5) -> dict[str, Any]:
    model = bench_model(units, features)
    x = np.random.default_rng(1).normal(size=(1, steps, features)).astype(np.float32)
    model.trace(x)  # warm-up: BLAS threads, page faults
    out: dict[str, Any] = {"trace_steps": steps, "trace_features": features, "trace_units": units,
                           "trace_ms": round(_median_ms(lambda: model.trace(x), repeat), 2)}
    torch_ms = _torch_forward_ms(model, x, repeat)
    if torch_ms is not None:
        out["torch_forward_ms"] = round(torch_ms, 2)
        out["trace_vs_torch"] = round(out["trace_ms"] / torch_ms, 2)
    return out


def _torch_forward_ms(model: Model, x: np.ndarray, repeat: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    w = model.traced_layers[0].weights
    n, d = w.units, w.input_dim
    lstm = torch.nn.LSTM(d, n, batch_first=True)
    with torch.no_grad():
        # Keras (D,4N) columns i,f,g,o -> torch (4N,D) rows i,f,g,o: a transpose, same order.
        lstm.weight_ih_l0.copy_(torch.from_numpy(w.kernel.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(w.recurrent_kernel.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(w.bias.copy()))
        lstm.bias_hh_l0.zero_()
        xt = torch.from_numpy(x)
        ours = model.trace(x).layer(0).h
        theirs = lstm(xt)[0].numpy()
        if not np.allclose(ours, theirs, atol=1e-4):
            raise RuntimeError("torch and engine disagree on the benchmark model")
        lstm(xt)
        return _median_ms(lambda: lstm(xt), repeat)
