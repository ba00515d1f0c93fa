"""Engine figures: the helpers every figure shares (the model, the torch twin, one timer).
The grid (``engine.bench.grid``, with ``trace_figures``, its default points under their
headline names) builds on them, so this module never imports it.

Both sides run single threaded (``torch.set_num_threads(1)``; main.py starts BLAS with one
thread): on a shared 2-core machine BLAS threads waiting for each other made a (256, 32) x
(32, 1024) product 20x slower, which measures the neighbours, not the engine.
"""

from __future__ import annotations

import time

import numpy as np

from engine.cells.cell import CellWeights
from engine.network.layers import LSTM
from engine.network.model import Model


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
