"""The sLSTM's trace against the ``xlstm`` package's vanilla cell forward, same weights, same run.

Each point builds one random sLSTM of ``HEADS`` heads as the engine's ``SlstmWeights`` in the
form a live package cell is read (``engine.loaders.xlstm_modules``: the cell reads its gate
pre-activations, so x is (B, T, 4N) and W is the identity) and the same numbers in the package's
``sLSTMCell_vanilla``, and measures it as the LSTM grid measures its points
(``engine.bench.grid.measure_point``: the two checked equal first, then ``Model.trace`` — every
array recorded, i f g o c, the normalizer and the stabilizer, h — and the package's forward
without autograd timed alternately on one thread; wall and thread-CPU ratios, the first call,
the spread, the machine's load). The package's cell steps time in a Python loop of torch ops,
its reference backend on CPU (docs/architecture.md, "sLSTM").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import engine.runs.slstm_stepper  # noqa: F401  (hands SlstmWeights their runner)
from engine.bench.grid import measure_point, point_key
from engine.cells.slstm_cell import SlstmWeights, block_diagonal
from engine.network.layers import LSTM
from engine.network.model import Model

SLSTM_POINTS = ((1, 256, 1000), (32, 256, 1000))
"""(batch, units, steps) of the ``slstm`` figure: B=1 and B=32 at 256 units, T=1000."""
HEADS = 4
"""Heads of every point's cell (64 units each at N=256)."""


def bench_slstm_model(units: int, heads: int = HEADS, seed: int = 0) -> Model:
    """A random sLSTM read as a live package cell is: identity W (D = 4N), block-diagonal U."""
    rng = np.random.default_rng(seed)
    hd = units // heads
    blocks = rng.normal(0, 0.3, (heads, hd, 4, hd)).astype(np.float32)
    weights = SlstmWeights(np.eye(4 * units, dtype=np.float32), block_diagonal(blocks),
                           rng.normal(0, 0.3, 4 * units).astype(np.float32), heads=heads,
                           reads_preactivations=True)
    return Model([LSTM("slstm", weights, return_sequences=True, kind="sLSTM")], source="bench",
                 format="bench")


def package_blocks(w: SlstmWeights) -> np.ndarray:
    """U (N, 4N) as the package's recurrent kernel (heads, 4·hd, hd): the inverse of the
    reading in ``xlstm_modules.slstm_weights``."""
    heads, hd = w.heads, w.head_size
    u = w.recurrent_kernel.reshape(w.units, 4, w.units)
    blocks = np.stack([u[k * hd:(k + 1) * hd, :, k * hd:(k + 1) * hd] for k in range(heads)])
    return np.ascontiguousarray(blocks.transpose(0, 2, 3, 1).reshape(heads, 4 * hd, hd))


def package_cell_of(model: Model):
    """The package's ``sLSTMCell_vanilla`` holding the model's first traced layer's weights."""
    import torch
    from xlstm.blocks.slstm.cell import sLSTMCell_vanilla, sLSTMCellConfig
    w = model.traced_layers[0].weights
    cell = sLSTMCell_vanilla(sLSTMCellConfig(hidden_size=w.units, num_heads=w.heads,
                                             backend="vanilla"))
    with torch.no_grad():
        cell._recurrent_kernel.copy_(torch.from_numpy(package_blocks(w)))
        cell._bias.copy_(torch.from_numpy(w.bias).reshape(cell._bias.shape))
    return cell.eval()


def package_forward_of(model: Model) -> Callable[[Any], tuple[Any, ...]]:
    """The package cell's forward with its h as (B, T, N), the engine's layout: the cell
    returns (B, heads, T, head units), which its layer transposes after its group norm."""
    cell = package_cell_of(model)

    def forward(x):
        y, state = cell(x)
        return y.transpose(1, 2).reshape(y.shape[0], y.shape[2], -1), state
    return forward


def slstm_figures(points=SLSTM_POINTS, repeat: int = 3,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``{"slstm": {point: figures}}``, each point keyed as the grid's (``B1_N256_T1000``) and
    naming its ``heads``; a reason instead when torch or the package is not installed."""
    try:
        import torch  # noqa: F401
        import xlstm  # noqa: F401
    except ImportError as exc:
        return {"slstm": {"skipped": f"{exc.name} is not installed: no baseline to compare with"}}
    out: dict[str, Any] = {}
    for k, (batch, units, steps) in enumerate(points, 1):
        key = point_key(batch, units, steps)
        if progress is not None:
            progress(f"slstm point {k}/{len(points)}: {key}")
        fig = measure_point(batch, units, steps, repeat, features=4 * units,
                            model_of=lambda n, _features: bench_slstm_model(n),
                            torch_of=package_forward_of)
        out[key] = fig if "skipped" in fig else {**fig, "heads": HEADS}
    return {"slstm": out}
