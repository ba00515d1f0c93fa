"""The cells of a live ``xlstm`` package model (``xLSTMBlockStack`` ...) as engine ops.

The package's blocks run their own projections, convolutions and norms; the engine steps the
cells. An sLSTM cell (``sLSTMCell_vanilla``) reads the gate pre-activations its layer made,
(B, T, 4N) in the order i, f, z, o (the layer's headwise projections of the convolved input
for i and f, of the input for z and o), so its traced layer's input ``x`` is that and its W is
the identity: x·W is exactly what the cell read. Its recurrent kernel (heads, 4·hd, hd) and
bias (4N,) are read as the vanilla backend uses them and laid out as the engine's U (N, 4N),
zero between heads (``slstm_cell.block_diagonal``); docs/architecture.md, "sLSTM".

What the engine does not step is refused in one line naming the module path and the option
(another cell function, the CUDA backend, clipping), as for LSTMs. The package is never
imported here: a module is recognised by its class's module path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cells.slstm_cell import SlstmWeights, block_diagonal
from ..errors import UnsupportedModelError
from ..network.layers import LSTM

SLSTM_CELLS = ("sLSTMCell_vanilla", "sLSTMCell_cuda")
"""The package's sLSTM cell classes (``sLSTMCell(config)`` returns one of them)."""


def is_xlstm_cell(mod: Any) -> bool:
    """True for a cell of the ``xlstm`` package that LSTM Scope traces (its sLSTM cells)."""
    cls = type(mod)
    return cls.__module__.split(".")[0] == "xlstm" and cls.__name__ in SLSTM_CELLS


def _refuse(path: str, option: str, why: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"the sLSTM cell '{path}' has {option}: {why}")


def slstm_weights(path: str, mod: Any) -> SlstmWeights:
    """An sLSTM cell's weights in the engine's layout, or a one-line refusal naming ``path``
    and the option the engine cannot step."""
    cfg = mod.config
    if type(mod).__name__ != "sLSTMCell_vanilla":
        raise _refuse(path, f"backend='{cfg.backend}'", "LSTM Scope steps the package's reference "
                      "cell; build the model with backend='vanilla' (the CUDA kernels need a GPU)")
    if cfg.function != "slstm":
        raise _refuse(path, f"function='{cfg.function}'", "only the sLSTM pointwise function "
                      "('slstm') is stepped")
    if cfg.num_gates != 4:
        raise _refuse(path, f"num_gates={cfg.num_gates}", "the sLSTM has four gates")
    if cfg.constants:
        raise _refuse(path, f"constants={cfg.constants!r}", "the reference cell's constants are "
                      "not stepped")
    if cfg.input_shape not in ("BSGNH", "SBGNH"):
        raise _refuse(path, f"input_shape='{cfg.input_shape}'", "only BSGNH and SBGNH inputs are read")
    heads, hd = cfg.num_heads, cfg.hidden_size // cfg.num_heads
    r = mod._recurrent_kernel.detach().to("cpu").float().numpy()      # (heads, 4·hd, hd): [k, g·hd+j, i]
    b = mod._bias.detach().to("cpu").float().numpy().reshape(-1)       # (4N,) gate-major, head, unit
    if r.shape != (heads, 4 * hd, hd) or b.shape != (4 * heads * hd,):
        raise _refuse(path, f"a recurrent kernel of shape {tuple(r.shape)}",
                      f"expected ({heads}, {4 * hd}, {hd}) for {heads} heads of {hd} units")
    blocks = r.reshape(heads, 4, hd, hd).transpose(0, 3, 1, 2)        # [head, input i, gate, output j]
    n = heads * hd
    count = sum(int(p.numel()) for p in mod.parameters())
    return SlstmWeights(kernel=np.eye(4 * n, dtype=np.float32), recurrent_kernel=block_diagonal(blocks),
                        bias=b, heads=heads, param_count=count, reads_preactivations=True)


def slstm_ops(path: str, mod: Any) -> list[LSTM]:
    """The one traced layer of an sLSTM cell at module path ``path``: its whole sequence."""
    return [LSTM(name=path, weights=slstm_weights(path, mod), return_sequences=True, kind="sLSTM")]


def slstm_feed(mod: Any, args: tuple, kwargs: dict) -> tuple[np.ndarray, np.ndarray | None,
                                                              np.ndarray | None]:
    """(x (B, T, 4N), h0, c0) from one call of an sLSTM cell (``forward(input, state)``):
    the input batch first, and the state (4, B, N) = h, c, n, m as h0 and c0 = c, n, m side by
    side (None: zeros)."""
    x = args[0].detach().to("cpu").float().numpy()
    if mod.config.input_shape == "SBGNH":
        x = x.transpose(1, 0, 2)
    state = args[1] if len(args) > 1 else kwargs.get("state")
    if state is None:
        return np.ascontiguousarray(x), None, None
    s = state.detach().to("cpu").float().numpy()
    return np.ascontiguousarray(x), s[0], np.concatenate([s[1], s[2], s[3]], axis=-1)
