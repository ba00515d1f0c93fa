"""The GRU's trace against PyTorch's ``nn.GRU`` forward on the same weights, same run.

Each point builds one random GRU (D=32, PyTorch's own form: ``reset_after``, an input and a
recurrent bias) as the engine's ``GruWeights`` and the same numbers in an ``nn.GRU``, and
measures it as the LSTM grid measures its points (``engine.bench.grid.measure_point``: the two
checked equal first, then ``Model.trace`` — every array recorded, u r n h zx zh — and torch's
forward without autograd timed alternately on one thread; wall and thread-CPU ratios, the first
call, the spread, the machine's load).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import engine.runs.gru_stepper  # noqa: F401  (hands GruWeights their runner)
from engine.bench.grid import measure_point, point_key
from engine.cells.gru_cell import GruWeights
from engine.network.layers import LSTM
from engine.network.model import Model

GRU_POINTS = ((1, 256, 1000), (32, 256, 1000))
"""(batch, units, steps) of the ``gru`` figure: B=1 and B=32 at 256 units, T=1000."""
TORCH_BLOCKS = (1, 0, 2)
"""PyTorch's GRU row blocks r, z, n, each as the index of the engine's block (u, r, n; the
frameworks' z is the engine's u)."""


def bench_gru_model(units: int, features: int, seed: int = 0) -> Model:
    """A random GRU direction in PyTorch's form (reset_after, an input and a recurrent bias)."""
    rng = np.random.default_rng(seed)
    weights = GruWeights(rng.normal(0, 0.2, (features, 3 * units)).astype(np.float32),
                         rng.normal(0, 0.1, (units, 3 * units)).astype(np.float32),
                         rng.normal(0, 0.1, 3 * units).astype(np.float32),
                         recurrent_bias=rng.normal(0, 0.1, 3 * units).astype(np.float32),
                         reset_after=True)
    return Model([LSTM("gru", weights, return_sequences=True, kind="GRU")], source="bench",
                 format="bench")


def _torch_rows(a: np.ndarray, n: int) -> np.ndarray:
    """The engine's blocks u, r, n along axis 0 as PyTorch's rows r, z, n."""
    return np.concatenate([a[k * n:(k + 1) * n] for k in TORCH_BLOCKS])


def torch_gru_of(model: Model):
    """A ``torch.nn.GRU`` holding the model's first traced layer's weights (the baseline)."""
    import torch
    w = model.traced_layers[0].weights
    n = w.units
    gru = torch.nn.GRU(w.input_dim, n, batch_first=True)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.from_numpy(_torch_rows(w.kernel.T, n)))
        gru.weight_hh_l0.copy_(torch.from_numpy(_torch_rows(w.recurrent_kernel.T, n)))
        gru.bias_ih_l0.copy_(torch.from_numpy(_torch_rows(w.bias, n)))
        gru.bias_hh_l0.copy_(torch.from_numpy(_torch_rows(w.recurrent_bias, n)))
    return gru


def gru_figures(points=GRU_POINTS, repeat: int = 3,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``{"gru": {point: figures}}``, each point keyed as the grid's (``B1_N256_T1000``)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return {"gru": {"skipped": "torch is not installed: no baseline to compare with"}}
    out: dict[str, Any] = {}
    for k, (batch, units, steps) in enumerate(points, 1):
        key = point_key(batch, units, steps)
        if progress is not None:
            progress(f"gru point {k}/{len(points)}: {key}")
        out[key] = measure_point(batch, units, steps, repeat, model_of=bench_gru_model,
                                 torch_of=torch_gru_of)
    return {"gru": out}
